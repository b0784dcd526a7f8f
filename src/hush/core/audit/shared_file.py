"""Reading back a chained audit file that several processes of one node append to.

With worker processes (``hush server -workers=N``) every worker has its own file device on the
same file, and they must write *one* chain. Each append happens under an exclusive ``flock`` on
the file; a worker that finds the file longer than it left it reads back what the others wrote
since (only that: :func:`lines_backwards` stops at the worker's own last offset) and links its
line to the last one there. On open (start, SIGHUP reopen, retry after a failure) a worker
continues the file's chain only if :func:`resume_point` proves the tail extends the device's own
chain: every line back to the nearest signed record links to the one before it, and that record
carries the device's chain id, public key and a valid signature.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hush.core.audit.chain import CHECKPOINT, DEVICE_START, line_hash, verify_signature
from hush.core.audit.verify import parse_line

__all__ = ["Link", "lines_backwards", "parse_link", "pread_fd", "read_link", "resume_point"]

READ_CHUNK = 65536
# A walk back to the nearest signed record reads at most this much (checkpoints come at least
# every CHECKPOINT_EVERY lines, so a healthy file never needs as much); past it: new segment.
MAX_WALK = 64 * 1024 * 1024

PRead = Callable[[int, int], bytes]


@dataclass(frozen=True, slots=True)
class Link:
    """One chained line as read back: its place in the chain and its kind."""

    seq: int
    prev: str
    digest: str
    kind: str


def pread_fd(fd: int) -> PRead:
    """A ``pread(length, offset)`` on ``fd`` (which must be open for reading)."""
    return lambda length, offset: os.pread(fd, length, offset)


def lines_backwards(pread: PRead, start: int, end: int, limit: int = MAX_WALK) -> Iterator[bytes]:
    """The lines between byte offsets ``start`` and ``end``, last first, newlines kept.

    ``start`` must be a line boundary. The first line yielded may lack its newline (a torn
    tail). Stops after about ``limit`` bytes (the oldest lines are then not yielded).
    """
    pos, rest = end, b""
    while pos > start:
        step = min(READ_CHUNK, pos - start)
        pos -= step
        data = pread(step, pos) + rest
        stop = len(data)
        while stop > 0:
            cut = data.rfind(b"\n", 0, stop - 1)
            if cut < 0:
                break
            yield data[cut + 1 : stop]
            stop = cut + 1
        rest = data[:stop]
        if end - pos > limit:
            return
    if rest:
        yield rest


def parse_link(raw: bytes, prefix: bytes) -> tuple[Link, dict[str, object]] | None:
    """``raw`` as a complete chained line (its link and record), or ``None`` if it is not one."""
    if not raw.endswith(b"\n"):
        return None
    try:
        record = parse_line(raw, prefix)
    except (ValueError, TypeError):
        return None
    chain = record.get("hush_chain")
    if not isinstance(chain, dict):
        return None
    seq, prev = chain.get("seq"), chain.get("prev")
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(prev, str):
        return None
    return Link(seq, prev, line_hash(raw), str(record.get("type", ""))), record


def read_link(raw: bytes, prefix: bytes) -> Link | None:
    """Just the link of :func:`parse_link`."""
    parsed = parse_link(raw, prefix)
    return parsed[0] if parsed else None


def resume_point(
    lines: Iterator[bytes],
    prefix: bytes,
    chain_id: str,
    public_key: str,
    min_signed_seq: int | None,
) -> Link | None:
    """The file's last line if the tail provably extends chain ``chain_id``, else ``None``.

    ``lines`` come last first (:func:`lines_backwards`). Walks back to the nearest signed
    record, checking each link; that record must name ``chain_id`` and ``public_key``, carry a
    valid signature and (when ``min_signed_seq`` is given, the seq of the device's last stored
    signed record) not come before it: a file cut back past that record is not continued.
    """
    tail: Link | None = None
    later: Link | None = None
    for raw in lines:
        parsed = parse_link(raw, prefix)
        if parsed is None:
            return None
        link, record = parsed
        if later is not None and (later.prev != link.digest or later.seq != link.seq + 1):
            return None
        tail = tail or link
        if link.kind in (CHECKPOINT, DEVICE_START):
            if record.get("chain_id") != chain_id or record.get("public_key") != public_key:
                return None
            if not verify_signature(public_key, record):
                return None
            if min_signed_seq is not None and link.seq < min_signed_seq:
                return None
            return tail
        later = link
    return None
