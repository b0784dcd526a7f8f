"""Contract tests shared by every storage backend."""
