"""The evidence bundle: reproducible bytes, no secrets, and a verifier that names every change."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from posture import evidence
from posture import snapshot as snapshot_io
from posture.baseline import Baseline, load_baseline, shipped_baselines
from posture.evaluate import evaluate
from posture.evidence import MANIFEST, SIGNATURE, EvidenceError, build_bundle, verify_bundle
from posture.findings import AuditReport, StaleWaiver
from posture.snapshot import Snapshot
from posture.snapshot import Status as SectionStatus

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "demo.snapshot.json"
ACME = ROOT / "examples" / "acme-baseline.yaml"
CANARIES = (
    "glpat-CANARYtokenFAKE0000000",
    "glpat-CANARYequalsFAKE11111",
    "CANARYenvFAKEvalue9999",
    "CANARYurlPASSWORD",
)
CONTENT_MEMBERS = (
    "README.md",
    "baseline/original/1-gitlab-hardening.yaml",
    "baseline/original/2-acme-baseline.yaml",
    "baseline/resolved.yaml",
    "cis.csv",
    "controls.csv",
    "findings.json",
    "report.html",
    "run.json",
    "snapshot.json",
    "waivers.csv",
)

Members = dict[str, bytes]


@pytest.fixture(scope="module")
def inputs() -> tuple[Snapshot, Baseline, AuditReport]:
    snapshot = snapshot_io.load(GOLDEN)
    baseline = load_baseline(str(ACME))
    return snapshot, baseline, evaluate(snapshot, baseline)


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return evidence.generate_key()


def build(
    inputs: tuple[Snapshot, Baseline, AuditReport],
    key: bytes | None,
    *,
    command_line: list[str] | None = None,
    snapshot: Snapshot | None = None,
) -> bytes:
    snap, baseline, report = inputs
    return build_bundle(
        snapshot=snapshot or snap,
        report=report,
        baseline=baseline,
        baseline_files=[ACME],
        period="2026-Q4",
        command_line=command_line or ["posture", "evidence", "-o", "evidence.zip"],
        signing_key=key,
    )


@pytest.fixture(scope="module")
def signed(inputs, keys) -> bytes:  # type: ignore[no-untyped-def]
    return build(inputs, keys[0])


def members_of(data: bytes) -> Members:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(members: Members | list[tuple[str, bytes]]) -> bytes:
    items = members.items() if isinstance(members, dict) else members
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in items:
            archive.writestr(name, data)
    return buffer.getvalue()


def tampered(data: bytes, change: Callable[[Members], Members]) -> bytes:
    return rezip(change(members_of(data)))


def flip_one_byte(blob: bytes) -> bytes:
    middle = len(blob) // 2
    return blob[:middle] + bytes([blob[middle] ^ 0x01]) + blob[middle + 1 :]


# --- a good bundle ----------------------------------------------------------------------------


def test_signed_bundle_verifies_with_public_or_private_key(signed, keys) -> None:
    private, public = keys
    for key in (public, private):
        result = verify_bundle(signed, key=key)
        assert result.ok, result.problems
        assert result.problems == []
        assert result.signed_by is not None
        assert result.signed_by.startswith("sha256:")


def test_bundle_holds_every_member_and_manifest_covers_all_others(signed) -> None:
    members = members_of(signed)
    assert sorted(members) == sorted([*CONTENT_MEMBERS, MANIFEST, SIGNATURE])
    listed = [line.split("  ", 1)[1] for line in members[MANIFEST].decode().splitlines()]
    assert listed == sorted(CONTENT_MEMBERS)


def test_shipped_baseline_is_copied_from_the_package(signed) -> None:
    members = members_of(signed)
    shipped = shipped_baselines()["gitlab-hardening"].read_bytes()
    assert members["baseline/original/1-gitlab-hardening.yaml"] == shipped
    assert members["baseline/original/2-acme-baseline.yaml"] == ACME.read_bytes()


def test_same_inputs_give_identical_bytes_with_fixed_metadata(inputs, keys, signed) -> None:
    assert build(inputs, keys[0]) == signed
    assert build(inputs, None) == build(inputs, None)
    with zipfile.ZipFile(io.BytesIO(signed)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for info in infos:
        assert info.date_time == (2026, 11, 2, 3, 0, 0)  # the snapshot's finished_at
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.extra == b""


def test_output_path_does_not_change_the_bytes(inputs) -> None:
    first = build(inputs, None, command_line=["posture", "evidence", "-o", "/tmp/a/one.zip"])
    second = build(inputs, None, command_line=["posture", "evidence", "--output=two.zip"])
    run_a = json.loads(members_of(first)["run.json"])
    run_b = json.loads(members_of(second)["run.json"])
    assert "/tmp/a/one.zip" not in json.dumps(run_a)
    assert "two.zip" not in json.dumps(run_b)


def test_run_json_records_provenance(signed) -> None:
    run = json.loads(members_of(signed)["run.json"])
    assert run["tool"] == "posture"
    assert run["python_gitlab_version"]
    assert run["gitlab"] == {
        "url": "https://gitlab.demo.example",
        "version": "17.11.1-ee",
        "revision": "5a7ce2b1c4d",
        "enterprise": True,
    }
    assert run["snapshot"]["finished_at"] == "2026-11-02T03:00:00Z"
    assert run["period"] == "2026-Q4"
    assert run["baseline"]["digest"].startswith("sha256:")


# --- no secrets at rest -----------------------------------------------------------------------


def test_no_secret_from_the_command_line_reaches_any_member(inputs, keys) -> None:
    argv = [
        "posture", "evidence", "--token", CANARIES[0], f"--private-token={CANARIES[1]}",
        f"GITLAB_TOKEN={CANARIES[2]}", "--url", f"https://bot:{CANARIES[3]}@gitlab.example",
        "--group", "acme", "-o", "out.zip",
    ]  # fmt: skip
    data = build(inputs, keys[0], command_line=argv)
    assert not any(c.encode() in data for c in CANARIES)  # not even in compressed form
    for name, blob in members_of(data).items():
        for canary in CANARIES:
            assert canary.encode() not in blob, f"{canary} leaked into {name}"
    run = json.loads(members_of(data)["run.json"])
    assert run["command_line"][:2] == ["posture", "evidence"]
    assert "--group" in run["command_line"]
    assert "acme" in run["command_line"]
    assert "https://gitlab.example" in run["command_line"]


# --- tampering --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTENT_MEMBERS)
def test_one_changed_byte_in_any_member_is_named(signed, keys, name) -> None:
    bad = tampered(signed, lambda m: {**m, name: flip_one_byte(m[name])})
    result = verify_bundle(bad, key=keys[1])
    assert not result.ok
    assert [p for p in result.problems if p.startswith("modified: ")] == [
        next(p for p in result.problems if p.startswith(f"modified: {name} "))
    ]


def test_edited_manifest_breaks_the_signature(signed, keys) -> None:
    def change(m: Members) -> Members:
        lines = m[MANIFEST].decode().splitlines()
        lines = [ln for ln in lines if not ln.endswith("  controls.csv")]
        return {**m, MANIFEST: ("\n".join(lines) + "\n").encode()}

    result = verify_bundle(tampered(signed, change), key=keys[1])
    assert not result.ok
    assert "added: controls.csv is not in MANIFEST.sha256" in result.problems
    assert any(
        p.startswith("signature invalid: MANIFEST.sha256 was changed") for p in result.problems
    )


def test_added_and_removed_files_are_named(signed, keys) -> None:
    added = tampered(signed, lambda m: {**m, "extra/notes.txt": b"hello"})
    result = verify_bundle(added, key=keys[1])
    assert not result.ok
    assert result.problems == ["added: extra/notes.txt is not in MANIFEST.sha256"]

    removed = tampered(signed, lambda m: {k: v for k, v in m.items() if k != "waivers.csv"})
    result = verify_bundle(removed, key=keys[1])
    assert not result.ok
    assert result.problems == ["removed: waivers.csv is listed in MANIFEST.sha256 but missing"]


def test_missing_or_garbled_manifest(signed) -> None:
    gone = tampered(signed, lambda m: {k: v for k, v in m.items() if k != MANIFEST})
    result = verify_bundle(gone, key=None)
    assert not result.ok
    assert "manifest missing: MANIFEST.sha256 is not in the bundle" in result.problems

    garbled = tampered(signed, lambda m: {**m, MANIFEST: b"not a manifest line\n"})
    result = verify_bundle(garbled, key=None)
    assert not result.ok
    assert "manifest invalid: line 1 is not '<sha256>  <path>'" in result.problems


def test_wrong_key_is_reported(signed) -> None:
    _other_private, other_public = evidence.generate_key()
    result = verify_bundle(signed, key=other_public)
    assert not result.ok
    assert len(result.problems) == 1
    assert result.problems[0].startswith("wrong key: ")


def test_garbled_signature_is_reported(signed, keys) -> None:
    bad = tampered(signed, lambda m: {**m, SIGNATURE: b"{}"})
    result = verify_bundle(bad, key=keys[1])
    assert not result.ok
    assert result.problems == [
        "signature invalid: SIGNATURE.ed25519 is not posture signature metadata"
    ]


def test_resigned_by_someone_else_is_wrong_key_even_if_self_consistent(signed, keys) -> None:
    impostor = evidence._load_private(evidence.generate_key()[0])

    def resign(m: Members) -> Members:
        forged = {**m, "findings.json": b"{}"}
        manifest = evidence.manifest_text(forged).encode()
        signature = evidence._signature_file(impostor, manifest)
        return {**forged, MANIFEST: manifest, SIGNATURE: signature}

    forged = tampered(signed, resign)
    assert not verify_bundle(forged, key=keys[1]).ok
    unchecked = verify_bundle(forged, key=None)  # no trusted key: intact, but says so
    assert unchecked.ok
    assert any("not checked against a trusted key" in p for p in unchecked.problems)


def test_unsigned_bundle_is_reported_and_fails_when_a_key_is_expected(inputs, keys) -> None:
    unsigned = build(inputs, None)
    assert SIGNATURE not in members_of(unsigned)
    plain = verify_bundle(unsigned, key=None)
    assert plain.ok
    assert len(plain.problems) == 1
    assert plain.problems[0].startswith("unsigned: ")
    expected = verify_bundle(unsigned, key=keys[1])
    assert not expected.ok
    assert expected.problems[0].startswith("unsigned: ")


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/etc/passwd", "a/../../b.txt", "C:/x.txt", "a\\..\\b.txt", "dir/"]
)
def test_unsafe_member_names_are_problems(signed, name) -> None:
    hostile = rezip([*members_of(signed).items(), (name, b"x")])
    result = verify_bundle(hostile, key=None)
    assert not result.ok
    assert any(p.startswith("unsafe member name") for p in result.problems)


def test_duplicate_member_is_a_problem(signed) -> None:
    members = list(members_of(signed).items())
    with pytest.warns(UserWarning, match="Duplicate name"):
        hostile = rezip([*members, ("findings.json", b"{}")])
    result = verify_bundle(hostile, key=None)
    assert not result.ok
    assert "duplicate member: findings.json appears more than once" in result.problems


def test_zip_bomb_stops_at_the_size_cap(monkeypatch) -> None:
    monkeypatch.setattr(evidence, "MAX_TOTAL_BYTES", 1_000_000)
    bomb = rezip([("a.bin", bytes(4_000_000)), (MANIFEST, b"")])
    assert len(bomb) < 50_000
    result = verify_bundle(bomb, key=None)
    assert not result.ok
    assert any(p.startswith("too large: ") for p in result.problems)


def test_too_many_members_is_a_problem(monkeypatch) -> None:
    monkeypatch.setattr(evidence, "MAX_MEMBERS", 5)
    many = rezip([(f"f{i}.txt", b"x") for i in range(6)])
    result = verify_bundle(many, key=None)
    assert not result.ok
    assert result.problems[0].startswith("too many members: 6")


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + bytes(40)])
def test_unreadable_input_is_a_one_line_error(data) -> None:
    with pytest.raises(EvidenceError) as caught:
        verify_bundle(data, key=None)
    assert "\n" not in str(caught.value)


def test_truncated_bundle_is_a_one_line_error(signed) -> None:
    with pytest.raises(EvidenceError, match="not a readable zip") as caught:
        verify_bundle(signed[: len(signed) // 2], key=None)
    assert "\n" not in str(caught.value)


def test_bad_keys_are_one_line_errors_that_echo_nothing(inputs, signed) -> None:
    junk = b"-----BEGIN PRIVATE KEY-----\nCANARYkeyMATERIAL\n-----END PRIVATE KEY-----\n"
    with pytest.raises(EvidenceError) as caught:
        build(inputs, junk)
    assert "CANARY" not in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(EvidenceError):
        verify_bundle(signed, key=junk)


# --- README and waivers -----------------------------------------------------------------------


def test_readme_names_baseline_digest_key_and_sections_not_collected(inputs, keys) -> None:
    snapshot, _baseline, report = inputs
    project = snapshot.projects[0]
    broken = snapshot.model_copy(deep=True)
    broken.projects[0].variables.status = SectionStatus.FORBIDDEN
    broken.projects[0].variables.http_status = 403
    broken.projects[0].variables.message = "needs the Maintainer role"
    broken.projects[0].variables.data = None
    readme = members_of(build(inputs, keys[0], snapshot=broken))["README.md"].decode()
    assert report.baseline.digest in readme
    assert "INCOMPLETE: 1 section(s)" in readme
    expected = f"project:{project.path_with_namespace} variables: forbidden (HTTP 403): needs"
    assert expected in readme.replace("\\", "")
    fingerprint = json.loads(members_of(build(inputs, keys[0]))[SIGNATURE])[
        "public_key_fingerprint"
    ]
    assert fingerprint in readme
    assert "sha256sum -c MANIFEST.sha256" in readme


def test_waivers_csv_lists_active_expired_and_stale(inputs) -> None:
    _snapshot, baseline, report = inputs
    stale = StaleWaiver(
        rule="webhooks.plain_http",
        target="acme/gone",
        owner="=cmd|evil",
        expires="2027-01-01",
        source=baseline.waivers[-1].source,
    )
    text = evidence.waivers_csv(report.model_copy(update={"stale_waivers": [stale]}), baseline)
    lines = text.split("\r\n")
    assert lines[0] == "rule,target,item,reason,owner,expires,status,source"
    statuses = {line.split(",")[-2] for line in lines[1:] if line}
    assert statuses == {"active", "expired", "stale"}
    stale_row = next(line for line in lines if ",stale," in line)
    assert "'=cmd|evil" in stale_row  # neutralised for spreadsheets
    assert baseline.waivers[-1].reason in stale_row  # reason looked up from the baseline
