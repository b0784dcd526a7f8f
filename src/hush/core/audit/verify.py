"""Verify a file audit device's log: the hash chain, the sequence and the signed checkpoints.

:func:`verify_log` reads the lines one at a time (memory stays bounded: one line of look-ahead
and one hash per checkpoint) and reports either OK or the *first* problem with its line number:

* a changed byte: the line no longer parses, or its SHA-256 is not the ``prev`` of the next line;
* a missing entry: a gap in ``seq``;
* entries swapped or moved: ``seq`` out of order;
* a truncated tail: the file ends mid-line, or after the last checkpoint (a device writes a
  checkpoint when it closes, so a closed log ends with one; pass ``allow_open=True`` for a log
  that is still being written);
* a bad signature on a ``device_start`` or ``checkpoint`` record.

Without ``public_key`` the signatures are checked against the key the log itself names, which
proves the log is consistent; pinning the device's key (``AuditBroker.public_key``) also proves
it was not rewritten wholesale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from hush.core.audit.chain import CHECKPOINT, DEVICE_START, line_hash, verify_signature
from hush.core.audit.entry import from_jsonx

__all__ = ["VerifyReport", "detect_prefix", "parse_line", "verify_log"]

_ENTRY_TYPES = frozenset({"request", "response"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :func:`verify_log`; ``line``/``reason`` name the first problem if any."""

    ok: bool
    lines: int
    entries: int
    checkpoints: int
    segments: int
    line: int | None = None
    reason: str = ""
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """``OK: N entries, M checkpoints`` or ``FAIL at line N: reason``."""
        if self.ok:
            return f"OK: {self.entries} entries, {self.checkpoints} checkpoints"
        return f"FAIL at line {self.line}: {self.reason}"


def parse_line(raw: bytes, prefix: bytes = b"") -> dict[str, Any]:
    """One log line (prefix and newline allowed) as a record; raises ``ValueError``."""
    if not raw.startswith(prefix):
        raise ValueError("the line does not start with the log's prefix")
    body = raw[len(prefix) :].rstrip(b"\n")
    if body.startswith(b"{"):
        record = orjson.loads(body)
    elif body.startswith(b"<"):
        record = from_jsonx(body)
    else:
        raise ValueError("neither JSON nor JSONx")
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def detect_prefix(raw: bytes) -> bytes:
    """The device ``prefix`` in front of a line's JSON or JSONx (empty if none)."""
    found = [i for i in (raw.find(b'{"'), raw.find(b"<?xml")) if i >= 0]
    return raw[: min(found)] if found else b""


@dataclass(slots=True)
class _Line:
    number: int
    raw: bytes
    digest: str
    record: dict[str, Any] | None = None
    error: str = ""
    seq: int | None = None
    prev: str = ""
    kind: str = ""


def _read(number: int, raw: bytes, prefix: bytes) -> _Line:
    line = _Line(number, raw, line_hash(raw))
    try:
        record = parse_line(raw, prefix)
    except (ValueError, TypeError) as exc:  # orjson and ElementTree errors are ValueErrors
        line.error = str(exc).split("\n")[0][:120] or type(exc).__name__
        return line
    chain = record.get("hush_chain")
    if not isinstance(chain, dict):
        line.error = "it has no hush_chain; it was not written by a chained Hush file device"
        return line
    seq, prev = chain.get("seq"), chain.get("prev")
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(prev, str):
        line.error = "hush_chain must hold an integer seq and a string prev"
        return line
    if prev and not _HEX64.fullmatch(prev):
        line.error = "hush_chain.prev is not a SHA-256 hex digest"
        return line
    line.record, line.seq, line.prev, line.kind = record, seq, prev, str(record.get("type", ""))
    return line


class _Problem(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(slots=True)
class _Verifier:
    pinned_key: str | None
    expected_seq: int | None = None
    prev_hash: str = ""
    chain_id: str | None = None
    public_key: str | None = None
    last_kind: str = ""
    last_number: int = 0
    anchors: dict[str, int] = field(default_factory=dict)
    entries: int = 0
    checkpoints: int = 0
    segments: int = 0
    notes: list[str] = field(default_factory=list)

    def check(self, cur: _Line, nxt: _Line | None) -> None:
        if not cur.raw.endswith(b"\n"):
            raise _Problem(cur.number, "the file ends in the middle of a line (tail truncated)")
        if cur.record is None or cur.seq is None:
            raise _Problem(cur.number, f"not a valid audit record: {cur.error} (modified?)")
        if cur.kind in (DEVICE_START, CHECKPOINT):
            self._check_signature(cur)
        if cur.kind == DEVICE_START:
            self._start_segment(cur)
        else:
            self._check_link(cur, nxt)
            if cur.kind == CHECKPOINT:
                self.checkpoints += 1
                self.anchors[cur.digest] = cur.seq
            elif cur.kind in _ENTRY_TYPES:
                self.entries += 1
            else:
                raise _Problem(cur.number, f"unknown record type {cur.kind!r} (modified?)")
        self.expected_seq, self.prev_hash = cur.seq + 1, cur.digest
        self.last_kind, self.last_number = cur.kind, cur.number

    def _check_signature(self, cur: _Line) -> None:
        assert cur.record is not None
        key = str(cur.record.get("public_key", ""))
        chain_id = str(cur.record.get("chain_id", ""))
        if self.pinned_key is not None and key != self.pinned_key:
            raise _Problem(cur.number, f"{cur.kind} is signed by a key other than the given one")
        same_chain = self.chain_id is None or chain_id == self.chain_id
        if cur.kind == CHECKPOINT and not same_chain:
            raise _Problem(cur.number, "checkpoint of a different chain (chain_id changed)")
        if cur.kind == CHECKPOINT and self.public_key not in (None, key):
            raise _Problem(cur.number, "checkpoint names a different public key than its chain")
        if not verify_signature(key, cur.record):
            raise _Problem(cur.number, f"bad {cur.kind} signature (modified?)")
        self.chain_id, self.public_key = self.chain_id or chain_id, self.public_key or key

    def _start_segment(self, cur: _Line) -> None:
        assert cur.record is not None and cur.seq is not None
        chain_id = str(cur.record.get("chain_id", ""))
        key = str(cur.record.get("public_key", ""))
        genesis = cur.seq == 0 and cur.prev == ""
        if self.expected_seq is None:
            if not genesis:
                self.notes.append(
                    f"line {cur.number}: the log continues a chain from an earlier file "
                    f"(seq {cur.seq}); verify the files in order to check the link"
                )
        elif chain_id != self.chain_id:
            if not (genesis and self.last_kind == CHECKPOINT):
                raise _Problem(cur.number, "a different chain starts without its own genesis")
            self.notes.append(f"line {cur.number}: a new chain begins (device re-enabled)")
            self.anchors.clear()
        elif cur.prev == self.prev_hash and cur.seq == self.expected_seq:
            pass  # the device reopened its file and carried straight on
        elif cur.prev in self.anchors and cur.seq == self.anchors[cur.prev] + 1:
            lost = self.expected_seq - cur.seq
            self.notes.append(
                f"line {cur.number}: the device restarted from its record at seq "
                f"{cur.seq - 1}; the {lost} line(s) after it were not sealed by a checkpoint "
                "(written just before a crash?)"
            )
        else:
            raise _Problem(
                cur.number,
                "segment start links neither to the line before it nor to a checkpoint "
                "(lines missing or reordered)",
            )
        self.chain_id, self.public_key = chain_id, key
        self.segments += 1
        self.anchors[cur.digest] = cur.seq

    def _check_link(self, cur: _Line, nxt: _Line | None) -> None:
        assert cur.seq is not None
        if self.expected_seq is None:
            self.notes.append(
                f"line {cur.number}: the log starts in the middle of a chain (seq {cur.seq}); "
                "what came before it cannot be checked"
            )
            return
        expected = self.expected_seq
        if cur.seq != expected:
            raise _Problem(cur.number, self._seq_reason(cur, nxt, expected))
        if cur.prev != self.prev_hash:
            # Whose bytes changed: this line (its prev field) or the one before it? If the next
            # line still links to this one (or a valid signature vouches for prev), the earlier.
            if cur.kind == CHECKPOINT or (nxt is not None and nxt.prev == cur.digest):
                raise _Problem(
                    cur.number - 1,
                    f"the line was modified: its hash is not the prev of line {cur.number}",
                )
            raise _Problem(
                cur.number,
                f"the line was modified: its prev does not match line {cur.number - 1}",
            )

    def _seq_reason(self, cur: _Line, nxt: _Line | None, expected: int) -> str:
        assert cur.seq is not None
        following = nxt.seq if nxt is not None else None
        if cur.seq == expected + 1 and following == expected:
            return f"entries swapped: seq {cur.seq} comes before seq {expected}"
        if following == expected + 1:
            if cur.prev == self.prev_hash:
                return f"the line was modified: seq {cur.seq} where {expected} belongs"
            return f"entry out of place: seq {cur.seq} where seq {expected} belongs (moved)"
        if cur.seq > expected:
            missing = (
                f"seq {expected}" if cur.seq == expected + 1 else f"seq {expected}-{cur.seq - 1}"
            )
            return f"missing entry: {missing} is not in the log"
        return f"entries out of order: seq {cur.seq} after seq {expected - 1}"

    def report(self, problem: _Problem | None, allow_open: bool) -> VerifyReport:
        counts = (self.last_number, self.entries, self.checkpoints, self.segments)
        if problem is None and self.last_number == 0:
            problem = _Problem(1, "the log is empty")
        if problem is None and self.last_kind != CHECKPOINT:
            message = (
                f"the log ends after seq {(self.expected_seq or 1) - 1} without a closing "
                "checkpoint (tail truncated, or the device is still writing)"
            )
            if not allow_open:
                problem = _Problem(self.last_number, message)
            else:
                self.notes.append(message)
        if problem is None and self.pinned_key is None:
            self.notes.append("signatures were checked against the key the log names itself")
        if problem is not None:
            return VerifyReport(False, *counts, problem.line, problem.reason, tuple(self.notes))
        return VerifyReport(True, *counts, notes=tuple(self.notes))


def verify_log(
    lines: Iterable[bytes],
    public_key: bytes | str | None = None,
    *,
    prefix: bytes | None = None,
    allow_open: bool = False,
) -> VerifyReport:
    """Check a chained audit log line by line; see the module docstring for what is detected.

    ``lines`` are the file's lines with their newlines (iterate a file opened ``"rb"``).
    ``public_key`` is the device's base64 Ed25519 key (bytes or str) to pin; ``prefix`` the
    device's ``prefix`` option (detected from the first line when ``None``).
    """
    pinned = public_key.decode() if isinstance(public_key, bytes) else public_key
    verifier = _Verifier(pinned_key=pinned.strip() if pinned else None)
    source: Iterator[bytes] = iter(lines)
    first = next(source, None)
    if first is None:
        return verifier.report(None, allow_open)
    found_prefix = detect_prefix(first) if prefix is None else prefix
    number = 1
    cur: _Line | None = _read(number, first, found_prefix)
    try:
        while cur is not None:
            raw = next(source, None)
            number += 1
            nxt = None if raw is None else _read(number, raw, found_prefix)
            verifier.check(cur, nxt)
            cur = nxt
    except _Problem as problem:
        return verifier.report(problem, allow_open)
    return verifier.report(None, allow_open)
