"""`posture evidence`: build from saved files, verify, detect tampering, reproducible bytes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from posture.cli import main

pytestmark = pytest.mark.integration

GOLDEN_SNAPSHOT = Path(__file__).resolve().parents[1] / "golden" / "demo.snapshot.json"
ACME = Path(__file__).resolve().parents[2] / "examples" / "acme-baseline.yaml"


@pytest.fixture
def keys(tmp_path, capsys):
    private, public = tmp_path / "signing.pem", tmp_path / "signing.pub.pem"
    assert main(["evidence", "keygen", "--private", str(private), "--public", str(public)]) == 0
    capsys.readouterr()
    return private, public


def build(tmp_path: Path, name: str, key: Path | None) -> Path:
    out = tmp_path / name
    argv = [
        "evidence", "--snapshot", str(GOLDEN_SNAPSHOT), "--baseline", str(ACME),
        "--period", "2026-Q4", "-o", str(out), "-q",
    ]  # fmt: skip
    if key is not None:
        argv += ["--sign-key-file", str(key)]
    assert main(argv) == 0
    return out


def rewrite(src: Path, dst: Path, change) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as zin:
        members = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    members = change(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    dst.write_bytes(buffer.getvalue())


def test_signed_bundle_verifies_and_is_reproducible(tmp_path, keys, capsys) -> None:
    private, public = keys
    first = build(tmp_path, "a.zip", private)
    second = build(tmp_path, "b.zip", private)
    assert first.read_bytes() == second.read_bytes()
    assert main(["evidence", "verify", str(first), "--key-file", str(public)]) == 0
    assert "valid" in capsys.readouterr().out
    names = set(zipfile.ZipFile(first).namelist())
    for expected in ("README.md", "snapshot.json", "findings.json", "controls.csv",
                     "waivers.csv", "report.html", "run.json", "MANIFEST.sha256"):  # fmt: skip
        assert expected in names


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("modified", lambda m: {**m, "findings.json": m["findings.json"] + b" "}),
        ("added", lambda m: {**m, "extra.txt": b"hello"}),
        ("removed", lambda m: {k: v for k, v in m.items() if k != "controls.csv"}),
    ],
)  # fmt: skip
def test_tampering_is_named_and_exits_1(tmp_path, keys, capsys, what, change) -> None:
    private, public = keys
    good = build(tmp_path, "good.zip", private)
    bad = tmp_path / "bad.zip"
    rewrite(good, bad, change)
    capsys.readouterr()
    assert main(["evidence", "verify", str(bad), "--key-file", str(public)]) == 1
    out = capsys.readouterr()
    assert what in (out.out + out.err).lower()


def test_wrong_key_exits_1(tmp_path, keys, capsys) -> None:
    private, _public = keys
    good = build(tmp_path, "good.zip", private)
    other_private, other_public = tmp_path / "o.pem", tmp_path / "o.pub.pem"
    main(["evidence", "keygen", "--private", str(other_private), "--public", str(other_public)])
    capsys.readouterr()
    assert main(["evidence", "verify", str(good), "--key-file", str(other_public)]) == 1


def test_unsigned_bundle_fails_when_a_key_is_expected(tmp_path, keys, capsys) -> None:
    _private, public = keys
    unsigned = build(tmp_path, "u.zip", None)
    assert main(["evidence", "verify", str(unsigned)]) == 0
    assert main(["evidence", "verify", str(unsigned), "--key-file", str(public)]) == 1
    capsys.readouterr()


def test_not_a_zip_is_a_one_line_error(tmp_path, capsys) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    code = main(["evidence", "verify", str(junk)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2)
    assert err
    assert "Traceback" not in "\n".join(err)


def test_missing_inputs_are_one_line_errors(tmp_path, capsys) -> None:
    assert main(["evidence", "-o", str(tmp_path / "x.zip")]) == 2
    assert "needs --snapshot" in capsys.readouterr().err
    assert main(["evidence", "--snapshot", str(GOLDEN_SNAPSHOT)]) == 2
    assert "needs -o" in capsys.readouterr().err
