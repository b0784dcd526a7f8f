"""Server configuration: a Vault-style HCL (or JSON) file parsed once into typed, frozen objects.

The file is read in two steps. First the HCL or JSON text (chosen by the ``.json`` suffix, as in
Vault) becomes a neutral list of ``key = value`` attributes and blocks, each with its line
(:mod:`.reader`). Then that list is checked against the tables of known keys of each block
(:mod:`.storage`, :mod:`.listener`, :mod:`.server`) and turned into :class:`ServerConfig`. Every
problem is a :class:`ConfigError` naming the file and, where it has one, the line.

Error messages never repeat storage option values: ``connection_url`` holds a password.
"""

from __future__ import annotations

from hush.server.config.listener import ListenerConfig
from hush.server.config.reader import ConfigError
from hush.server.config.seal import SealStanza
from hush.server.config.server import ServerConfig, load_config, parse_config
from hush.server.config.storage import StorageConfig

__all__ = [
    "ConfigError",
    "ListenerConfig",
    "SealStanza",
    "ServerConfig",
    "StorageConfig",
    "load_config",
    "parse_config",
]
