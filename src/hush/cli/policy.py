"""``hush policy write|read|list|delete|fmt``: ACL policies, as Vault's CLI manages them.

``fmt`` works locally: the file is parsed with the server's own parser
(:func:`hush.core.acl_parse.parse_policy`), so a policy it accepts is one the server accepts,
and a mistake is reported with the parser's line and column. The file is then rewritten in one
canonical layout; comments are kept, at the start of the block they were in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from hush.cli.client import (
    Client,
    ClientSettings,
    client_options,
    replace_file,
    response_data,
)
from hush.cli.options import VaultGroup
from hush.cli.output import CLIError, OutputOptions, UserError, emit, output_options

__all__ = ["format_policy", "policy_group"]

_INDENT = "  "
_COMMENTS = ("__comments__", "__inline_comments__")


@click.group("policy", cls=VaultGroup)
def policy_group() -> None:
    """Write, read, list, delete and format ACL policies."""


def _policy_path(name: str) -> str:
    return f"sys/policies/acl/{name}"


def _read_policy_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"Error opening policy file: {exc}") from None


@policy_group.command("write")
@click.argument("name")
@click.argument("source", metavar="FILE")
@client_options
def policy_write(settings: ClientSettings, name: str, source: str) -> None:
    """Upload the policy in FILE (- for stdin) as NAME, replacing any policy of that name."""
    name = name.strip().lower()  # Vault stores policy names in lower case
    text = _read_policy_text(source)
    with Client(settings) as client:
        client.write(_policy_path(name), {"policy": text}, action="uploading policy")
    click.echo(f"Success! Uploaded policy: {name}")


@policy_group.command("read")
@click.argument("name")
@client_options
@output_options(field=False)
def policy_read(settings: ClientSettings, output: OutputOptions, name: str) -> None:
    """Print the policy NAME."""
    name = name.strip().lower()
    with Client(settings) as client:
        secret = client.read(_policy_path(name), action=f"reading policy named {name}")
    text = response_data(secret).get("policy")
    if not isinstance(text, str) or not text:
        raise CLIError(f"No policy named: {name}")
    emit(output, {"policy": text}, text=text.strip())


@policy_group.command("list")
@client_options
@output_options(field=False)
def policy_list(settings: ClientSettings, output: OutputOptions) -> None:
    """List the names of the ACL policies."""
    with Client(settings) as client:
        secret = client.list("sys/policies/acl", action="listing policies")
    keys = [str(key) for key in response_data(secret).get("keys") or []]
    emit(output, keys, text="\n".join(keys))


@policy_group.command("delete")
@click.argument("name")
@client_options
def policy_delete(settings: ClientSettings, name: str) -> None:
    """Delete the policy NAME (tokens that carry it lose what it granted)."""
    name = name.strip().lower()
    with Client(settings) as client:
        client.delete(_policy_path(name), action=f"deleting {name}")
    click.echo(f"Success! Deleted policy: {name}")


@policy_group.command("fmt")
@click.argument("file", type=click.Path(dir_okay=False))
def policy_fmt(file: str) -> None:
    """Check the HCL policy in FILE and rewrite it in canonical layout."""
    text = _read_policy_text(file)
    if text.lstrip().startswith("{"):
        raise UserError(f"{file} is a JSON policy: policy fmt formats HCL policies")
    formatted = format_policy(text, file)
    if formatted != text:
        _replace(Path(file), formatted)
    click.echo(f"Success! Formatted policy: {file}")


def format_policy(text: str, source: str = "policy") -> str:
    """``text`` (a valid HCL policy) in canonical layout; CLIError with line/column if invalid.

    The result is parsed again and must grant exactly what ``text`` grants, so formatting can
    never change a policy's meaning.
    """
    import hcl2  # imported on use: the parser is slow to import

    from hush.core.acl_parse import PolicyError, parse_policy

    try:
        original = parse_policy(source, text)
    except PolicyError as exc:
        raise CLIError(f"Error formatting policy {source}: {exc}") from None
    options = hcl2.SerializationOptions(with_comments=True, preserve_heredocs=False)
    document = hcl2.loads(text, serialization_options=options)
    formatted = "\n".join(_document_lines(document)) + "\n"
    try:
        same = parse_policy(source, formatted).rules == original.rules
    except PolicyError:
        same = False
    if not same:  # a formatter bug, never the user's: refuse rather than change the policy
        raise CLIError(f"Error formatting policy {source}: cannot format it without changes")
    return formatted


def _replace(target: Path, text: str) -> None:
    """Write ``text`` over ``target`` atomically, keeping the file's permissions."""
    try:
        replace_file(target, text, target.stat().st_mode & 0o777)
    except OSError as exc:
        raise CLIError(f"Error writing {target}: {exc.strerror}") from None


# --- canonical HCL layout ---------------------------------------------------------------------
# python-hcl2 serialises literals as their HCL source ('"read"' with its quotes, escapes kept),
# so printing them back verbatim preserves every value exactly.


def _comment_lines(body: Mapping[str, Any], indent: str) -> Iterator[str]:
    for key in _COMMENTS:
        for comment in body.get(key) or []:
            for line in str(comment.get("value", "")).splitlines() or [""]:
                yield f"{indent}# {line.strip()}".rstrip()


def _is_block(item: Any) -> bool:
    return isinstance(item, dict) and bool(item.get("__is_block__"))


def _literal(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if item is None:
        return "null"
    if isinstance(item, list):
        return "[" + ", ".join(_literal(element) for element in item) + "]"
    if isinstance(item, dict):
        raise ValueError("objects inside lists are not valid in a policy")
    return str(item)


def _value_lines(item: Any, indent: str) -> list[str]:
    """An attribute value; objects span several lines, everything else fits on one."""
    if not isinstance(item, dict):
        return [_literal(item)]
    inner = indent + _INDENT
    lines = ["{", *_comment_lines(item, inner), *_body_lines(item, inner), f"{indent}}}"]
    return lines


def _body_lines(body: Mapping[str, Any], indent: str) -> list[str]:
    """The attributes and blocks of one body, ``=`` aligned across consecutive one-liners."""
    entries: list[tuple[str, list[str]]] = []
    for key, item in body.items():
        if key.startswith("__") and key.endswith("__"):
            continue
        blocks = item if isinstance(item, list) and item and all(map(_is_block, item)) else None
        if blocks is None:
            entries.append((key, _value_lines(item, indent)))
            continue
        for block in blocks:  # `name { ... }` block form, kept as a block
            inner = indent + _INDENT
            lines = [*_comment_lines(block, inner), *_body_lines(block, inner)]
            entries.append(("", [f"{indent}{key} {{", *lines, f"{indent}}}"]))
    output: list[str] = []
    index = 0
    while index < len(entries):
        run = _one_line_run(entries, index)
        if not run:
            key, lines = entries[index]
            output += [f"{indent}{key} = {lines[0]}", *lines[1:]] if key else lines
            index += 1
            continue
        width = max(len(key) for key, _ in run)
        output += [f"{indent}{key.ljust(width)} = {lines[0]}" for key, lines in run]
        index += len(run)
    return output


def _one_line_run(entries: list[tuple[str, list[str]]], start: int) -> list[tuple[str, list[str]]]:
    """The consecutive one-line attributes from ``start`` (aligned together, as gofmt does)."""
    run: list[tuple[str, list[str]]] = []
    for key, lines in entries[start:]:
        if not key or len(lines) > 1:
            break
        run.append((key, lines))
    return run


def _document_lines(document: Mapping[str, Any]) -> list[str]:
    lines = list(_comment_lines(document, ""))
    for key, item in document.items():
        if key.startswith("__"):
            continue
        if key != "path":
            if lines:
                lines.append("")
            lines.append(f"{key} = {_literal(item)}")
            continue
        for block in item:
            for label, body in block.items():
                if label == "__is_block__":
                    continue
                if lines:
                    lines.append("")
                lines.append(f"path {label} {{")
                lines += _comment_lines(body, _INDENT)
                lines += _body_lines(body, _INDENT)
                lines.append("}")
    return lines
