"""Rotation scheduling shared by engines: the due-time index and rotation schedules."""

from __future__ import annotations

from hush.core.rotation.due import DueEntry, DueIndex

__all__ = ["DueEntry", "DueIndex"]
