"""Snapshot files: deterministic bytes, validated loading, atomic writes, a fresh schema."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from posture import snapshot as snap
from posture.errors import OutputError, SnapshotFormatError

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "snapshot.schema.json"


def minimal(**meta_overrides) -> snap.Snapshot:
    forbidden = snap.Section(status=snap.Status.FORBIDDEN, message="admin only")
    meta = {
        "tool_version": "0.0.0",
        "gitlab_url": "https://gitlab.example.com",
        "token": snap.TokenInfo(username="alice"),
        "scope": snap.Scope(groups=["acme"]),
        "complete": True,
        "run": snap.RunStats(
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            finished_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
            duration_seconds=60.0,
            requests_total=3,
        ),
    }
    meta.update(meta_overrides)
    return snap.Snapshot(
        meta=snap.Meta(**meta),
        instance=snap.Instance(settings=forbidden, variables=forbidden),
    )


def test_dumps_is_sorted_and_stable() -> None:
    a = snap.dumps(minimal())
    b = snap.dumps(snap.loads(a))
    assert a == b
    data = json.loads(a)
    assert list(data) == sorted(data)
    assert a.endswith("\n")


GOLDEN_SNAPSHOT = Path(__file__).resolve().parents[1] / "golden" / "demo.snapshot.json"


def _whole_document(snapshot: snap.Snapshot) -> str:
    """How snapshots were serialised before streaming: the reference for the bytes."""
    data = snapshot.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("which", ["demo", "minimal", "unicode"])
def test_streamed_save_writes_the_same_bytes_as_one_document(which: str, tmp_path: Path) -> None:
    # Streaming keeps memory flat on large crawls; files and evidence hashes must not change.
    if which == "demo":
        snapshot = snap.load(GOLDEN_SNAPSHOT)
        assert snapshot.projects
        assert snapshot.groups
        assert snapshot.runners
    elif which == "minimal":
        snapshot = minimal()  # every list empty
    else:
        snapshot = minimal(gitlab_url="https://gitlab.example.com/ünï/\u2028")
    target = tmp_path / "s.json"
    snap.save(snapshot, target)
    assert target.read_bytes() == _whole_document(snapshot).encode("utf-8")
    assert snap.dumps(snapshot) == _whole_document(snapshot)


def test_stable_view_drops_only_volatile_fields() -> None:
    one = json.loads(snap.dumps(minimal()))
    other = minimal()
    other.meta.run.requests_total = 99
    two = json.loads(snap.dumps(other))
    assert one != two
    assert snap.stable_view(one) == snap.stable_view(two)
    assert "run" not in snap.stable_view(one)["meta"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON at line 1"),
        ("[]", "not a posture snapshot"),
        ('{"meta": {"tool": "posture"}}', "no integer schema_version"),
        ('{"meta": {"tool": "posture"}, "schema_version": 99}', "newer than this posture"),
        ('{"meta": {"tool": "posture"}, "schema_version": 0}', "unknown snapshot schema_version"),
        ('{"meta": {"tool": "posture"}, "schema_version": 1}', "invalid snapshot at"),
    ],
)
def test_loads_rejects_bad_input_with_one_line(text: str, message: str) -> None:
    with pytest.raises(SnapshotFormatError) as info:
        snap.loads(text, source="x.json")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("x.json")


def test_unknown_key_is_an_error() -> None:
    data = json.loads(snap.dumps(minimal()))
    data["groups"] = [{"id": 1, "full_path": "a", "surprise": 1}]
    with pytest.raises(SnapshotFormatError):
        snap.loads(json.dumps(data))


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    target.write_text("previous")
    snap.save(minimal(), target)
    assert snap.load(target).meta.gitlab_url == "https://gitlab.example.com"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "s.json"
    target.write_text("previous")

    def boom(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OutputError, match="No space left"):
        snap.save(minimal(), target)
    assert target.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_unwritable_directory_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        snap.save(minimal(), tmp_path / "missing" / "s.json")


def test_shipped_json_schema_is_fresh() -> None:
    fresh = json.dumps(snap.json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == fresh, (
        "docs/snapshot.schema.json is stale: run "
        "`python -m posture.snapshot > docs/snapshot.schema.json`"
    )
