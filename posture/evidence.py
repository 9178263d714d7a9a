"""SOC 2 evidence bundle: a reproducible zip an auditor can verify without trusting us.

One posture run becomes one zip: the snapshot, the findings, the baseline (resolved and as
written), the control roll-ups, the waivers, an HTML report, the run's provenance, a
``MANIFEST.sha256`` over every other member, and optionally ``SIGNATURE.ed25519``.

Why Ed25519 and not HMAC: with HMAC the auditor would need the same secret that produced the
tag, so anyone able to verify could also forge a "verified" bundle. With Ed25519 the security
team keeps the private key, the auditor gets only the public key, and can check but not forge.
Ed25519 signatures are deterministic, so signing does not break reproducibility.

Determinism: members are written in sorted order, each stamped with the snapshot's finish time
(UTC, never earlier than 1980-01-01, the zip epoch), mode 0o644, ZIP_DEFLATED at a fixed level
and no extra fields. Nothing in the bundle reads the wall clock, so the same inputs give the
same bytes (with the same posture, Python and zlib).

:func:`verify_bundle` never extracts anything and never trusts the zip's own size claims: it
streams each member through a hash with caps on member count and total size, and reports
unsafe names, duplicates, and every added, removed or modified file.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import platform
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from posture import __version__
from posture import findings as findings_io
from posture import snapshot as snapshot_io
from posture.baseline import Baseline
from posture.baseline.shipped import shipped_baselines
from posture.drift import model as drift_io
from posture.drift.model import Classification, DriftReport
from posture.errors import ConfigError
from posture.findings import AuditReport
from posture.gitlab.redact import redact_url
from posture.gitlab.secrets import name_suggests_secret, value_signals
from posture.report.csv import neutralise
from posture.snapshot import Snapshot, Status

__all__ = [
    "MANIFEST",
    "SIGNATURE",
    "EvidenceError",
    "VerifyResult",
    "build_bundle",
    "fingerprint",
    "generate_key",
    "verify_bundle",
]

BUNDLE_FORMAT = 1
MANIFEST = "MANIFEST.sha256"
SIGNATURE = "SIGNATURE.ed25519"
COMPRESSLEVEL = 9
ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=UTC)
FILE_MODE = 0o100644  # regular file, rw-r--r--

#: Caps for reading a bundle someone else handed us (zip bombs, absurd member counts).
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_METADATA_BYTES = 1024 * 1024  # MANIFEST.sha256 and SIGNATURE.ed25519 are small text files

WAIVER_COLUMNS = ("rule", "target", "item", "reason", "owner", "expires", "status", "source")
REDACTED = "REDACTED"

_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  (\S(?:.*\S)?)")
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
_SECRET_FLAGS = frozenset(
    {"--token", "--private-token", "--job-token", "--oauth-token", "--password", "--secret"}
)
_OUTPUT_FLAGS = frozenset({"-o", "--output"})
_SHIPPED_SUFFIX = " (shipped)"


class EvidenceError(ConfigError):
    """A bundle or key that cannot be read at all; the message is one line and echoes no input."""


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on a bundle.

    ``problems`` lists every finding, one line each; when ``ok`` is true it can still hold
    warnings an auditor should read ("unsigned", a signature not checked against a trusted key).
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    signed_by: str | None = None  # public key fingerprint of a valid signature


# --------------------------------------------------------------------------------------
# Keys and signatures
# --------------------------------------------------------------------------------------


def generate_key() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def fingerprint(public: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key: what README and SIGNATURE name."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _load_private(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise EvidenceError(
            "the signing key is not an unencrypted Ed25519 private key in PEM form "
            "(create one with: posture evidence keygen)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceError("the signing key is not an Ed25519 key")
    return key


def _load_public(pem: bytes) -> Ed25519PublicKey:
    """The auditor's key: a public key PEM, or a private key PEM whose public half is used."""
    key: Any
    try:
        if b"PRIVATE KEY" in pem:
            key = serialization.load_pem_private_key(pem, password=None)
        else:
            key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise EvidenceError(
            "the key file is not an Ed25519 public (or unencrypted private) key in PEM form"
        ) from None
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError("the key file is not an Ed25519 key")
    return key


def _signature_file(private: Ed25519PrivateKey, manifest: bytes) -> bytes:
    """Detached signature over the exact MANIFEST.sha256 bytes, with the key it was made by."""
    public = private.public_key()
    raw_public = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    doc = {
        "algorithm": "Ed25519",
        "signed_file": MANIFEST,
        "public_key_fingerprint": fingerprint(public),
        "public_key": base64.b64encode(raw_public).decode(),
        "signature": base64.b64encode(private.sign(manifest)).decode(),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------


def build_bundle(
    *,
    snapshot: Snapshot,
    report: AuditReport,
    baseline: Baseline,
    baseline_files: list[Path],
    period: str | None,
    command_line: list[str],
    signing_key: bytes | None,
    previous: Snapshot | None = None,
    drift: DriftReport | None = None,
) -> bytes:
    """The evidence zip as bytes. Same inputs give the same bytes; no secret is written.

    With ``previous``, ``drift.json`` records what changed since that snapshot (``drift``
    when the caller already has it, e.g. with audit-event authors; else computed offline).
    """
    from posture.compliance import controls_csv, load_framework
    from posture.report import Format, render

    private = _load_private(signing_key) if signing_key is not None else None
    key_fingerprint = fingerprint(private.public_key()) if private is not None else None

    members: dict[str, bytes] = {
        "snapshot.json": snapshot_io.dumps(snapshot).encode(),
        "findings.json": findings_io.dumps(report).encode(),
        "baseline/resolved.yaml": baseline.to_yaml().encode(),
        "controls.csv": controls_csv(report, load_framework("soc2")).encode(),
        "cis.csv": controls_csv(report, load_framework("cis")).encode(),
        "waivers.csv": waivers_csv(report, baseline).encode(),
        "report.html": render(report, Format.HTML).encode(),
    }
    originals = _original_baselines(baseline, baseline_files)
    members.update(originals)
    if previous is not None and drift is None:
        from posture.drift.engine import diff_snapshots

        drift = diff_snapshots(previous, snapshot)
    if drift is not None:
        members["drift.json"] = drift_io.dumps(drift).encode()
    members["run.json"] = _run_json(snapshot, report, period, command_line, previous).encode()
    members["README.md"] = readme(
        snapshot=snapshot,
        report=report,
        period=period,
        originals=sorted(originals),
        key_fingerprint=key_fingerprint,
        previous=previous,
        drift=drift,
        members=sorted([*members, "README.md"]),
    ).encode()
    manifest = manifest_text(members).encode()
    members[MANIFEST] = manifest
    if private is not None:
        members[SIGNATURE] = _signature_file(private, manifest)
    return _zip(members, _stamp(snapshot))


def manifest_text(members: dict[str, bytes]) -> str:
    """``sha256sum`` format (two spaces, sorted by path) so ``sha256sum -c`` can check it."""
    lines = [
        f"{hashlib.sha256(data).hexdigest()}  {name}"
        for name, data in sorted(members.items())
        if name not in (MANIFEST, SIGNATURE)
    ]
    return "\n".join(lines) + "\n"


def _stamp(snapshot: Snapshot) -> tuple[int, int, int, int, int, int]:
    """The snapshot's finish time in UTC for every member: informative and reproducible."""
    when = snapshot.meta.run.finished_at
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    when = max(when, ZIP_EPOCH)
    if when.year > 2107:  # the last year a DOS timestamp can hold
        when = ZIP_EPOCH
    return (when.year, when.month, when.day, when.hour, when.minute, when.second)


def _zip(members: dict[str, bytes], stamp: tuple[int, int, int, int, int, int]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below is honoured everywhere
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, members[name], compresslevel=COMPRESSLEVEL)
    return buffer.getvalue()


def _original_baselines(baseline: Baseline, files: list[Path]) -> dict[str, bytes]:
    """The baseline files as written, most general first; shipped ones from the package."""
    shipped = shipped_baselines()
    left = list(files)
    chain: list[Path] = []
    for source in baseline.sources:
        name = source.removesuffix(_SHIPPED_SUFFIX)
        if source.endswith(_SHIPPED_SUFFIX) and name in shipped:
            chain.append(shipped[name])
            continue
        for candidate in left:
            if str(candidate) == source or _same_file(candidate, Path(source)):
                chain.append(candidate)
                left.remove(candidate)
                break
    chain.extend(left)
    out: dict[str, bytes] = {}
    for number, path in enumerate(chain, start=1):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EvidenceError(
                f"cannot read baseline file {path}: {exc.strerror or type(exc).__name__}"
            ) from None
        out[f"baseline/original/{number}-{_SAFE_FILENAME.sub('_', path.name)}"] = data
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _drift_lines(drift: DriftReport | None) -> list[str]:
    """What changed since the previous run, in words, for the README."""
    if drift is None:
        return ["Not computed."]
    counts = drift.summary.by_classification
    lines = [
        f"`drift.json` lists {drift.summary.total} change(s): {counts['weakening']} weakening, "
        f"{counts['strengthening']} strengthening, {counts['neutral']} neutral, "
        f"{counts['unknown']} not comparable (data missing in one of the snapshots).",
        f"Previous snapshot digest (stable view): `{drift.old.digest}`.",
        f"Who made the changes (GitLab audit events): {drift.authors.status}"
        + (f" — {_md(drift.authors.message)}" if drift.authors.message else ""),
    ]
    weakening = drift.of(Classification.WEAKENING)
    if weakening:
        lines += ["", "Weakening changes:", ""]
        for change in weakening[:50]:
            author = change.events[0].author_name if change.events else None
            by = f" — by {_md(author)}" if author else ""
            lines.append(f"- {_md(change.target_path)}: {_md(change.summary)}{by}")
        if len(weakening) > 50:
            lines.append(f"- … and {len(weakening) - 50} more in `drift.json`")
    return lines


def waivers_csv(report: AuditReport, baseline: Baseline) -> str:
    """Every waiver that touched this run: active, expired (no longer waiving) and stale."""
    rows: set[tuple[str, ...]] = set()
    for finding in report.findings:
        if finding.waiver is None:
            continue
        w = finding.waiver
        rows.add(
            (
                finding.rule_id,
                finding.target_path,
                finding.item or "",
                w.reason,
                w.owner,
                w.expires,
                w.status,
                w.source,
            )
        )
    reasons = {w.source: w.reason for w in baseline.waivers}
    for stale in report.stale_waivers:
        rows.add(
            (
                stale.rule,
                stale.target,
                stale.item or "",
                reasons.get(stale.source, ""),
                stale.owner,
                stale.expires,
                "stale",
                stale.source,
            )
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(WAIVER_COLUMNS)
    for row in sorted(rows):
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


def safe_command_line(argv: list[str]) -> list[str]:
    """The command line without credentials, and without the output path (reproducibility).

    Token options lose their value, ``NAME=value`` pairs with a secret-looking name lose the
    value, URLs lose userinfo and secret parameters, and anything that looks like a credential
    on its own (``glpat-…``, high-entropy strings) becomes ``REDACTED``.
    """
    out: list[str] = []
    hide_next: str | None = None
    for arg in argv:
        if hide_next is not None:
            out.append(hide_next)
            hide_next = None
            continue
        flag, eq, _value = arg.partition("=")
        if arg in _SECRET_FLAGS:
            out.append(arg)
            hide_next = REDACTED
        elif arg in _OUTPUT_FLAGS:
            out.append(arg)
            hide_next = "BUNDLE.zip"
        elif eq and flag in _SECRET_FLAGS:
            out.append(f"{flag}={REDACTED}")
        elif eq and flag in _OUTPUT_FLAGS:
            out.append(f"{flag}=BUNDLE.zip")
        elif arg.startswith("-o") and not arg.startswith("--"):
            out.append("-oBUNDLE.zip")
        elif eq and not flag.startswith("-") and name_suggests_secret(flag):
            out.append(f"{flag}={REDACTED}")
        else:
            out.append(_safe_value(arg))
    return out


def _safe_value(arg: str) -> str:
    flag, eq, value = arg.partition("=")
    if eq and flag.startswith("--"):
        return f"{flag}={_safe_value(value)}"
    if "://" in arg:
        arg = redact_url(arg).url
    if value_signals(arg).looks_like_secret:
        return REDACTED
    return arg


def _iso(when: datetime) -> str:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _run_json(
    snapshot: Snapshot,
    report: AuditReport,
    period: str | None,
    command_line: list[str],
    previous: Snapshot | None,
) -> str:
    meta = snapshot.meta
    doc = {
        "bundle_format": BUNDLE_FORMAT,
        "tool": "posture",
        "tool_version": __version__,
        "python_gitlab_version": _version("python-gitlab"),
        "python_version": platform.python_version(),
        "command_line": safe_command_line(command_line),
        "period": period,
        "snapshot": {
            "tool_version": meta.tool_version,
            "started_at": _iso(meta.run.started_at),
            "finished_at": _iso(meta.run.finished_at),
            "complete": meta.complete,
        },
        "gitlab": {
            "url": redact_url(meta.gitlab_url).url,
            "version": meta.gitlab_version,
            "revision": meta.gitlab_revision,
            "enterprise": meta.gitlab_enterprise,
        },
        "baseline": {"name": report.baseline.name, "digest": report.baseline.digest},
        "evaluated_on": report.evaluated_on,
        "previous_snapshot_finished_at": (
            _iso(previous.meta.run.finished_at) if previous is not None else None
        ),
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _md(text: object) -> str:
    """One line of Markdown from data someone else chose: no newlines, no raw HTML or links."""
    flat = " ".join(str(text).split())
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", flat)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def not_collected(snapshot: Snapshot) -> list[str]:
    """One line per section GitLab did not give, with its status and reason. Sections the
    crawl skipped by choice (``skipped``: no enabled rule reads them) are not gaps."""
    lines = []
    for target, name, section in snapshot.sections():
        if section.ok or section.status is Status.SKIPPED:
            continue
        why = section.status.value
        if section.http_status is not None:
            why += f" (HTTP {section.http_status})"
        if section.message:
            why += f": {section.message}"
        lines.append(f"{target} {name}: {why}")
    return lines


def readme(
    *,
    snapshot: Snapshot,
    report: AuditReport,
    period: str | None,
    originals: list[str],
    key_fingerprint: str | None,
    previous: Snapshot | None,
    members: list[str],
    drift: DriftReport | None = None,
) -> str:
    """The auditor's entry point: what was checked, when, by whom, against what, and how to
    check that nothing changed since."""
    meta = snapshot.meta
    token = meta.token
    scopes = ", ".join(token.scopes) if token.scopes is not None else "not reported by GitLab"
    if meta.scope.all_groups:
        scope = "every group the account could see"
    else:
        scope = ", ".join(meta.scope.groups) or "(no groups)"
    missing = not_collected(snapshot)
    counts = ", ".join(f"{n} {status}" for status, n in report.summary.by_status.items())
    out = [
        "# posture evidence bundle",
        "",
        "Generated by posture, an open-source GitLab configuration auditor. Every file in this",
        "bundle is listed with its SHA-256 in `MANIFEST.sha256`"
        + (", which is signed (`SIGNATURE.ed25519`)." if key_fingerprint else "."),
        "",
        "## What was checked",
        "",
        f"- Observation period: {_md(period) if period else 'not given'}",
        f"- GitLab instance: {_md(redact_url(meta.gitlab_url).url)}, version "
        f"{_md(meta.gitlab_version or 'unknown')}",
        f"- Crawled from {_iso(meta.run.started_at)} to {_iso(meta.run.finished_at)} (UTC)",
        f"- Account: {_md(token.username or 'unknown')} (administrator: {_yes(token.is_admin)}, "
        f"bot: {_yes(token.bot)}); token scopes: {_md(scopes)}",
        f"- Scope: {_md(scope)}",
        f"- Baseline: {_md(report.baseline.name)}, digest `{report.baseline.digest}`",
        f"- Findings judged on {report.evaluated_on}: {report.summary.total} results ({counts})",
        "",
        "## Completeness",
        "",
    ]
    if missing:
        out += [
            f"The crawl is INCOMPLETE: {len(missing)} section(s) were not collected. Rules that",
            "need them report `unknown`, never `pass`.",
            "",
            *(f"- {_md(line)}" for line in missing),
        ]
    else:
        out.append("Every section in scope was collected.")
    skipped = sum(1 for *_, section in snapshot.sections() if section.status is Status.SKIPPED)
    if skipped:
        out += [
            "",
            f"{skipped} section(s) were not collected by choice: the crawl was driven by the "
            "baseline and no enabled rule reads them (`meta.sections` in `snapshot.json` lists "
            "what was collected).",
        ]
    if previous is not None:
        out += [
            "",
            "## Drift since the previous snapshot "
            f"(finished {_iso(previous.meta.run.finished_at)})",
            "",
            *_drift_lines(drift),
        ]
    out += [
        "",
        "## Files",
        "",
        *(f"- `{name}`" for name in members),
        f"- `{MANIFEST}`: SHA-256 of every file above",
        *([f"- `{SIGNATURE}`: Ed25519 signature of `{MANIFEST}`"] if key_fingerprint else []),
        "",
        "`baseline/resolved.yaml` is the baseline with every `extends` applied; loading it gives",
        "the digest above. `baseline/original/` holds the files as written, most general first"
        + (f" ({', '.join(f'`{n}`' for n in originals)})." if originals else "."),
        "`controls.csv` and `cis.csv` roll results up per SOC 2 criterion and CIS recommendation;",
        "requirements no rule can check are listed as `manual`, and rules no requirement names as",
        "`(unmapped)`. `waivers.csv` lists every accepted risk: active, expired or stale.",
        "",
        "## How to verify",
        "",
    ]
    if key_fingerprint:
        out += [
            "Signing key fingerprint (SHA-256 of the raw 32-byte Ed25519 public key):",
            f"`{key_fingerprint}`. Obtain the public key from the security team through a",
            "channel other than this bundle, and check its fingerprint:",
            "",
            "```",
            "openssl pkey -pubin -in PUBLIC.pem -outform DER | tail -c 32 | sha256sum",
            "```",
            "",
            "Then:",
            "",
            "```",
            "posture evidence verify evidence.zip --key-file PUBLIC.pem",
            "```",
        ]
    else:
        out += [
            "This bundle is NOT signed: the manifest shows the files are consistent with each",
            "other, not who produced them.",
            "",
            "```",
            "posture evidence verify evidence.zip",
            "```",
        ]
    out += [
        "",
        "Without posture:",
        "",
        "```",
        "unzip evidence.zip -d evidence && cd evidence",
        "sha256sum -c MANIFEST.sha256   # every listed file is unchanged",
        "# any file not listed in MANIFEST.sha256 (besides it and SIGNATURE.ed25519) was added",
    ]
    if key_fingerprint:
        out += [
            "python3 -c 'import json,base64,sys; sys.stdout.buffer.write(base64.b64decode("
            'json.load(open("SIGNATURE.ed25519"))["signature"]))\' > manifest.sig',
            "openssl pkeyutl -verify -pubin -inkey PUBLIC.pem -rawin "
            "-in MANIFEST.sha256 -sigfile manifest.sig",
        ]
    out += [
        "```",
        "",
        "## What this bundle does not prove",
        "",
        "- Only the settings GitLab's API showed to this account at crawl time; changes between",
        "  runs are not seen, and a section not collected is unknown, not compliant.",
        "- Not that the configuration was effective in practice, nor that people followed it.",
        "- A signature shows who holds the signing key, not that the key holder ran posture",
        "  honestly; keep the key with the team accountable for the evidence.",
        "- Requirements marked `manual` need evidence from elsewhere.",
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------------------


def _show(name: str) -> str:
    """A member name from a hostile zip, safe for one line of output."""
    shown = "".join(c if c.isprintable() else "?" for c in name)
    return shown if len(shown) <= 120 else shown[:117] + "..."


def _unsafe_name(name: str) -> str | None:
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path"
    if any(part in ("..", ".", "") for part in name.rstrip("/").split("/")):
        return "path traversal"
    if name.endswith("/"):
        return "directory entry"
    return None


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise EvidenceError("the bundle is not a readable zip file") from None


def _read_members(
    archive: zipfile.ZipFile, problems: list[str]
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Hash every member by streaming, under the caps; keep only the small metadata files."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        problems.append(f"too many members: {len(infos)} (limit {MAX_MEMBERS}); not read")
        return {}, {}
    hashes: dict[str, str] = {}
    kept: dict[str, bytes] = {}
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name in seen:
            problems.append(f"duplicate member: {_show(name)} appears more than once")
            continue
        seen.add(name)
        why = _unsafe_name(name)
        if why is not None:
            problems.append(f"unsafe member name ({why}): {_show(name)}")
            continue
        digest = hashlib.sha256()
        body = bytearray()
        keep = name in (MANIFEST, SIGNATURE)
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(1 << 16):
                    total += len(chunk)
                    if total > MAX_TOTAL_BYTES:
                        problems.append(
                            f"too large: members expand past {MAX_TOTAL_BYTES:,} bytes "
                            f"(at {_show(name)}); not read further"
                        )
                        return hashes, kept
                    digest.update(chunk)
                    if keep:
                        if len(body) + len(chunk) > MAX_METADATA_BYTES:
                            problems.append(f"too large: {name} exceeds {MAX_METADATA_BYTES:,}")
                            keep = False
                            body.clear()
                        else:
                            body += chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            problems.append(f"modified: {_show(name)} is corrupt ({type(exc).__name__})")
            continue
        except (RuntimeError, NotImplementedError):  # encrypted, or an unknown compression
            problems.append(f"unreadable member: {_show(name)} is encrypted or oddly compressed")
            continue
        hashes[name] = digest.hexdigest()
        if keep:
            kept[name] = bytes(body)
    return hashes, kept


def _parse_manifest(text: bytes, problems: list[str]) -> dict[str, str] | None:
    try:
        lines = text.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        problems.append(f"manifest invalid: {MANIFEST} is not UTF-8 text")
        return None
    entries: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None:
            problems.append(f"manifest invalid: line {number} is not '<sha256>  <path>'")
            return None
        digest, name = match.groups()
        if name in entries or name in (MANIFEST, SIGNATURE):
            problems.append(f"manifest invalid: line {number} lists {_show(name)} again or itself")
            return None
        entries[name] = digest
    return entries


def _check_signature(
    signature: bytes | None, manifest: bytes | None, key: bytes | None, problems: list[str]
) -> tuple[bool, str | None]:
    """(acceptable, fingerprint of a valid signature)."""
    trusted = _load_public(key) if key is not None else None
    if signature is None:
        if trusted is not None:
            problems.append(f"unsigned: the bundle has no {SIGNATURE} but a key was given")
            return False, None
        problems.append(
            f"unsigned: no {SIGNATURE}; the hashes show the files agree with each other, "
            "not who produced them"
        )
        return True, None
    try:
        doc = json.loads(signature.decode("utf-8"))
        raw_sig = base64.b64decode(doc["signature"], validate=True)
        embedded = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(doc["public_key"], validate=True)
        )
        if doc.get("algorithm") != "Ed25519" or doc.get("signed_file") != MANIFEST:
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        problems.append(f"signature invalid: {SIGNATURE} is not posture signature metadata")
        return False, None
    if manifest is None:
        return False, None  # the manifest problem is already reported
    signer = fingerprint(embedded)
    if doc.get("public_key_fingerprint") != signer:
        problems.append(f"signature invalid: {SIGNATURE} names a key it does not contain")
        return False, None
    if trusted is not None and fingerprint(trusted) != signer:
        problems.append(
            f"wrong key: the bundle was signed by {signer}, not by the given key "
            f"{fingerprint(trusted)}"
        )
        return False, None
    try:
        (trusted or embedded).verify(raw_sig, manifest)
    except InvalidSignature:
        problems.append(
            f"signature invalid: {MANIFEST} was changed after signing, or the signature was"
        )
        return False, None
    if trusted is None:
        problems.append(
            f"signature by key {signer} is intact but not checked against a trusted key "
            "(pass --key-file)"
        )
    return True, signer


def verify_bundle(data: bytes, *, key: bytes | None) -> VerifyResult:
    """Recompute every hash, check the signature, name every added, removed or modified file.

    Raises :class:`EvidenceError` only for input that is not a zip or a key that is not an
    Ed25519 PEM key; everything wrong inside a readable zip is a problem in the result.
    """
    if key is not None:
        _load_public(key)  # a bad key file is an error before any verdict
    problems: list[str] = []
    with _open(data) as archive:
        try:
            hashes, kept = _read_members(archive, problems)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError):
            raise EvidenceError("the bundle is not a readable zip file") from None
    structural_ok = not problems
    manifest_bytes = kept.get(MANIFEST)
    entries: dict[str, str] | None = None
    if MANIFEST not in hashes:
        problems.append(f"manifest missing: {MANIFEST} is not in the bundle")
    elif manifest_bytes is not None:
        entries = _parse_manifest(manifest_bytes, problems)
    content_ok = entries is not None
    if entries is not None:
        files = {n: h for n, h in hashes.items() if n not in (MANIFEST, SIGNATURE)}
        for name in sorted(set(files) - set(entries)):
            problems.append(f"added: {_show(name)} is not in {MANIFEST}")
            content_ok = False
        for name in sorted(set(entries) - set(files)):
            problems.append(f"removed: {_show(name)} is listed in {MANIFEST} but missing")
            content_ok = False
        for name in sorted(set(entries) & set(files)):
            if entries[name] != files[name]:
                problems.append(
                    f"modified: {_show(name)} (sha256 {files[name][:12]}…, "
                    f"manifest says {entries[name][:12]}…)"
                )
                content_ok = False
    signature_ok, signer = _check_signature(
        kept.get(SIGNATURE) if SIGNATURE in hashes else None,
        manifest_bytes if entries is not None else None,
        key,
        problems,
    )
    ok = structural_ok and content_ok and signature_ok
    return VerifyResult(ok=ok, problems=problems, signed_by=signer if ok else None)
