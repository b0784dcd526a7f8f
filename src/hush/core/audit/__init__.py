"""Audit devices and the broker that logs every request to them, fail-closed and hash-chained.

* :mod:`~hush.core.audit.entry`: Vault-shaped entries built from a request and its response;
* :mod:`~hush.core.audit.hashing`: per-device HMAC-SHA256 of the sensitive values;
* :mod:`~hush.core.audit.chain`: the hash chain and signed checkpoints of file devices;
* :mod:`~hush.core.audit.devices` / :mod:`~hush.core.audit.remote`: file, socket, syslog;
* :mod:`~hush.core.audit.broker`: the device table and fail-closed logging;
* :mod:`~hush.core.audit.verify`: checking a log file for tampering.
"""

from hush.core.audit.broker import AuditBroker, AuditTableEntry, AuditUnavailable
from hush.core.audit.devices import AuditDevice, AuditDeviceError, FileDevice
from hush.core.audit.remote import SocketDevice, SyslogDevice
from hush.core.audit.verify import VerifyReport, verify_log

__all__ = [
    "AuditBroker",
    "AuditDevice",
    "AuditDeviceError",
    "AuditTableEntry",
    "AuditUnavailable",
    "FileDevice",
    "SocketDevice",
    "SyslogDevice",
    "VerifyReport",
    "verify_log",
]
