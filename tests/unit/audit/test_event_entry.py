"""Engine events (``type: event`` audit entries) are hashed by the same rules as responses."""

from __future__ import annotations

from hush.core.audit.entry import build_event_entry
from hush.core.audit.hashing import Hasher, shape_entry
from tests.unit.audit.test_hashing import SALT, expected_hmac


def test_event_entry_hashes_data_strings_and_keeps_numbers_and_error() -> None:
    entry = build_event_entry(
        "rotation-failed",
        {"name": "db/app", "failures": 2},
        "testSecret: the webhook answered HTTP 500",
        event_id="e1",
        mount_point="awssm/",
        mount_type="awssm",
    )
    shaped = shape_entry(entry, Hasher(SALT))
    assert shaped["type"] == "event" and shaped["event"] == "rotation-failed"
    assert shaped["request"]["path"] == "awssm/rotation-failed"
    assert shaped["request"]["client_token"] == ""
    assert shaped["response"]["data"] == {"name": expected_hmac("db/app"), "failures": 2}
    assert shaped["error"] == "testSecret: the webhook answered HTTP 500"
    assert entry["response"]["data"]["name"] == "db/app"  # the caller's entry is not modified
