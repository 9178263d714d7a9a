"""The command line: the only place that knows argparse, stdout/stderr and exit codes.

Exit codes (README "Exit codes"):
  0  done; 1 reserved for violations (audit); 2 usage, configuration, authentication or
  connection error; 3 incomplete crawl with --strict; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from posture import __version__
from posture.errors import ConfigError, IncompleteAuditError, OutputError, PostureError

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130

log = logging.getLogger("posture")

SEVERITY_CHOICES = ("critical", "high", "medium", "low", "info")
FORMAT_CHOICES = ("table", "json", "junit", "sarif", "codequality", "csv", "markdown", "html")
DRIFT_FORMAT_CHOICES = ("table", "json", "markdown", "html", "junit", "sarif")
DRIFT_FAIL_CHOICES = ("weakening", "any", "none")


class _Parser(argparse.ArgumentParser):
    """argparse echoes unknown arguments; a pasted token must not reach a CI log that way."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if "unrecognized arguments" in message:
            message = "unrecognized arguments (see --help)"
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


class _RefuseToken(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[no-untyped-def]
        raise ConfigError(
            f"posture does not take tokens on the command line ({option_string}): "
            "set GITLAB_TOKEN or use --token-file PATH"
        )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")


def _connection(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--url", help="GitLab base URL (or GITLAB_URL), e.g. https://gitlab.com")
    group.add_argument(
        "--token-file", metavar="PATH", help="read the token from a file (else GITLAB_TOKEN)"
    )
    group.add_argument("--gitlab-config", metavar="FILE", help="python-gitlab config file")
    group.add_argument("--gitlab-id", metavar="NAME", help="section of the python-gitlab config")
    group.add_argument("--timeout", type=float, default=30.0, help="per request (default 30 s)")
    group.add_argument("--ca-bundle", metavar="PATH", help="CA bundle for TLS verification")
    group.add_argument(
        "--insecure", action="store_true", help="do not verify TLS certificates (warns)"
    )
    group.add_argument("--workers", type=int, default=8, help="concurrent requests (default 8)")
    group.add_argument(
        "--max-attempts", type=int, default=5, help="attempts per request (default 5)"
    )
    for flag in ("--token", "--private-token"):
        group.add_argument(flag, nargs="?", action=_RefuseToken, help=argparse.SUPPRESS)


def _scope(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "--group", action="append", metavar="PATH", help="group full path (repeatable)"
    )
    scope.add_argument(
        "--all", action="store_true", help="every group the token can see (admin: all)"
    )


def _shard(parser: argparse.ArgumentParser) -> None:
    # A plain string, checked by the command: an unexpanded "$CI_NODE_INDEX/…" then gets
    # posture's one-line explanation instead of argparse's usage dump.
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="crawl only the projects with id %% N == I-1 (shard 1 also collects the groups "
        "and the instance); combine the N snapshots with `posture merge`",
    )


def _evaluation(
    parser: argparse.ArgumentParser, fail_on_default: str = "high", *, with_baseline: bool = True
) -> None:
    group = parser.add_argument_group("evaluation")
    if with_baseline:
        group.add_argument(
            "--baseline",
            metavar="NAME|FILE",
            help="a shipped baseline (gitlab-hardening, minimal) or a YAML file "
            "(default gitlab-hardening)",
        )
    group.add_argument(
        "--fail-on",
        choices=(*SEVERITY_CHOICES, "none"),
        default=fail_on_default,
        help=f"exit 1 when a failing finding is at or above this (default {fail_on_default})",
    )
    group.add_argument(
        "--format", choices=FORMAT_CHOICES, default="table", help="output format for stdout/-o"
    )
    group.add_argument(
        "--report",
        action="append",
        metavar="FORMAT=PATH",
        default=[],
        help="also write a report in FORMAT to PATH (repeatable), e.g. --report junit=j.xml",
    )
    group.add_argument("-o", "--output", metavar="FILE", help="write the report here")
    group.add_argument(
        "--strict", action="store_true", help="exit 3 when results are unknown (data missing)"
    )


def _previous(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("drift")
    group.add_argument(
        "--previous",
        metavar="SNAPSHOT",
        help="last run's snapshot: add what changed since (drift) to every report",
    )
    group.add_argument(
        "--fail-on-drift",
        choices=DRIFT_FAIL_CHOICES,
        default="none",
        help="also exit 1 on weakening drift (or any drift); default none",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="posture",
        description="Audit a GitLab instance's security configuration.",
    )
    parser.add_argument("--version", action="version", version=f"posture {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    snap = sub.add_parser(
        "snapshot",
        help="crawl groups and projects into a snapshot file",
        description="Crawl GitLab groups (all subgroup depths) and their projects into a "
        "secret-free snapshot file.",
    )
    _connection(snap)
    _scope(snap)
    _shard(snap)
    snap.add_argument(
        "--baseline",
        metavar="NAME|FILE",
        help="collect only what this baseline's enabled rules need (fewer requests); "
        "default: everything",
    )
    snap.add_argument(
        "-o",
        "--output",
        default="posture.snapshot.json",
        metavar="FILE",
        help="snapshot file (default posture.snapshot.json; - for stdout)",
    )
    snap.add_argument(
        "--strict", action="store_true", help="exit 3 when a section failed after retries"
    )
    _common(snap)

    merge = sub.add_parser(
        "merge",
        help="combine the snapshots of `snapshot --shard I/N` into one",
        description="Combine shards 1..N of one sharded crawl into the snapshot a single "
        "crawl would have written (equal outside meta.run). Refuses shards of different "
        "instances, scopes, baselines (sections), posture versions or totals, and a missing "
        "or repeated shard.",
    )
    merge.add_argument("shards", nargs="+", metavar="SHARD", help="a shard's snapshot file")
    merge.add_argument(
        "-o",
        "--output",
        default="posture.snapshot.json",
        metavar="FILE",
        help="merged snapshot (default posture.snapshot.json; - for stdout)",
    )
    merge.add_argument(
        "--strict", action="store_true", help="exit 3 when a section failed after retries"
    )
    _common(merge)

    sandbox = sub.add_parser("sandbox", help="a loopback GitLab API for trying posture")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="COMMAND")
    sandbox_sub.required = True
    serve = sandbox_sub.add_parser("serve", help="serve a GitLab REST v4 sandbox on 127.0.0.1")
    from posture.sandbox.cli import add_serve_arguments

    add_serve_arguments(serve)
    _common(serve)

    audit = sub.add_parser(
        "audit",
        help="crawl, then evaluate against a baseline",
        description="Crawl GitLab and evaluate what was found against a hardening baseline.",
    )
    _connection(audit)
    _scope(audit)
    _shard(audit)
    audit.add_argument(
        "--full-crawl",
        action="store_true",
        help="collect every section, not only what the baseline's rules need "
        "(e.g. to keep a complete snapshot with --save-snapshot)",
    )
    _evaluation(audit)
    audit.add_argument(
        "--save-snapshot", metavar="FILE", help="also keep the crawled snapshot in FILE"
    )
    _previous(audit)
    _common(audit)

    check = sub.add_parser(
        "check",
        help="evaluate a saved snapshot offline",
        description="Evaluate a saved snapshot against a baseline, without talking to GitLab. "
        "Gives exactly the findings `posture audit` gives.",
    )
    check.add_argument("snapshot", metavar="SNAPSHOT", help="a snapshot file")
    _evaluation(check)
    _previous(check)
    _common(check)

    report = sub.add_parser(
        "report",
        help="convert a saved findings file to another format",
        description="Render a findings file (from --format json) in any format, without "
        "crawling or evaluating again; the output equals what the audit would have written.",
    )
    report.add_argument("findings", metavar="FINDINGS.json")
    _evaluation(report, with_baseline=False)
    _common(report)

    evidence = sub.add_parser(
        "evidence",
        help="a signed SOC 2 evidence bundle an auditor can verify",
        description="Build a reproducible evidence bundle (zip) from a crawl or from a saved "
        "snapshot, or verify one. See docs/soc2.md.",
    )
    _connection(evidence)
    scope = evidence.add_mutually_exclusive_group()
    scope.add_argument("--group", action="append", metavar="PATH", help="group to crawl")
    scope.add_argument("--all", action="store_true", help="every group the token can see")
    scope.add_argument("--snapshot", metavar="SNAPSHOT", help="use a saved snapshot, no crawl")
    evidence.add_argument("--baseline", metavar="NAME|FILE", help="default gitlab-hardening")
    evidence.add_argument("--period", metavar="PERIOD", help="observation period, e.g. 2026-Q4")
    evidence.add_argument("-o", "--output", metavar="FILE", help="the bundle (.zip) to write")
    evidence.add_argument("--previous", metavar="SNAPSHOT", help="last run's snapshot")
    evidence.add_argument("--sign-key-file", metavar="KEY", help="Ed25519 private key (PEM)")
    _common(evidence)
    evidence_sub = evidence.add_subparsers(dest="evidence_command", metavar="COMMAND")
    verify = evidence_sub.add_parser("verify", help="check every hash and the signature")
    verify.add_argument("bundle", metavar="BUNDLE.zip")
    verify.add_argument("--key-file", metavar="KEY", help="the signer's public key (PEM)")
    keygen = evidence_sub.add_parser("keygen", help="create an Ed25519 signing key pair")
    keygen.add_argument("--private", required=True, metavar="FILE", help="private key (0600)")
    keygen.add_argument("--public", required=True, metavar="FILE", help="public key")

    diff = sub.add_parser(
        "diff",
        help="what changed between two snapshots, and which changes weaken security",
        description="Compare two snapshots of the same GitLab: entities matched by id, every "
        "change classified weakening, strengthening, neutral or unknown, with the author from "
        "GitLab audit events when a token can read them. See docs/drift.md.",
    )
    diff.add_argument("old", metavar="OLD.snapshot.json")
    diff.add_argument("new", metavar="NEW.snapshot.json")
    diff.add_argument(
        "--format", choices=DRIFT_FORMAT_CHOICES, default="table", help="output format"
    )
    diff.add_argument("-o", "--output", metavar="FILE", help="write the report here")
    diff.add_argument(
        "--fail-on",
        choices=DRIFT_FAIL_CHOICES,
        default="weakening",
        help="exit 1 on weakening changes (default), on any change, or never",
    )
    diff.add_argument(
        "--strict", action="store_true", help="also exit 1 when sections could not be compared"
    )
    diff.add_argument(
        "--no-audit-events",
        action="store_true",
        help="stay offline: do not ask GitLab who made the changes",
    )
    _connection(diff)
    _common(diff)

    rules = sub.add_parser("rules", help="the rule catalog", description="List the rules.")
    rules.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table", help="output format"
    )
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="COMMAND")
    explain = rules_sub.add_parser("explain", help="why a rule matters and how to fix it")
    explain.add_argument("rule_id", metavar="RULE_ID")

    baseline = sub.add_parser("baseline", help="validate, show or start a baseline")
    baseline_sub = baseline.add_subparsers(dest="baseline_command", metavar="COMMAND")
    baseline_sub.required = True
    validate = baseline_sub.add_parser("validate", help="strict validation: exit 0 or 2")
    validate.add_argument("file", metavar="FILE")
    show = baseline_sub.add_parser("show", help="the fully resolved baseline")
    show.add_argument("file", metavar="NAME|FILE")
    show.add_argument("--format", choices=("yaml", "json"), default="yaml")
    init = baseline_sub.add_parser("init", help="a commented starter baseline")
    init.add_argument("--from-snapshot", metavar="SNAPSHOT", help="tune it to what exists")
    init.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")

    demo = sub.add_parser(
        "demo",
        help="audit the bundled demo GitLab instance (sandbox)",
        description="Start the sandbox with the demo instance, crawl it and audit it.",
    )
    demo.add_argument(
        "--role", choices=("admin", "owner"), default="admin", help="whose token crawls"
    )
    demo.add_argument("--tier", choices=("free", "premium"), default="premium")
    demo.add_argument("--workers", type=int, default=8)
    _evaluation(demo, fail_on_default="none")
    demo.add_argument("--save-snapshot", metavar="FILE", help="also keep the demo snapshot in FILE")
    demo.add_argument(
        "--drift",
        action="store_true",
        help="crawl, change the demo GitLab the way a careless admin would, crawl again, and "
        "show the drift with the audit-event authors",
    )
    _common(demo)
    return parser


# -- commands --------------------------------------------------------------------------


def _check_output(path: str) -> None:
    """Fail before a long crawl, not after it, when the output cannot be written."""
    if path == "-":
        return
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise OutputError(f"cannot write {path}: permission denied")


def _progress(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from posture.progress import Progress

    return Progress(sys.stderr, mode="off" if args.quiet else "auto")


def _crawl(client_config, options, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from posture.gitlab.client import GitLabClient
    from posture.gitlab.crawl import Crawler

    client = GitLabClient(client_config)
    try:
        with _progress(args) as progress:
            return Crawler(client, options, progress=progress).run()
    finally:
        client.close()


def _client_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from posture.gitlab import credentials
    from posture.gitlab.client import ClientConfig

    creds = credentials.resolve(
        url=args.url,
        token_file=args.token_file,
        gitlab_config=args.gitlab_config,
        gitlab_id=args.gitlab_id,
    )
    if args.workers < 1 or args.workers > 64:
        raise ConfigError("--workers must be between 1 and 64")
    if args.timeout <= 0:
        raise ConfigError("--timeout must be positive")
    if args.max_attempts < 1:
        raise ConfigError("--max-attempts must be at least 1")
    if args.ca_bundle and not Path(args.ca_bundle).is_file():
        raise ConfigError(f"CA bundle {args.ca_bundle} does not exist")
    insecure = args.insecure or creds.ssl_verify is False
    if insecure:
        print(
            "posture: warning: TLS certificate verification is OFF; anyone on the network "
            "path can read the token",
            file=sys.stderr,
        )
    ca_bundle = args.ca_bundle or (creds.ssl_verify if isinstance(creds.ssl_verify, str) else None)
    return ClientConfig(
        url=creds.url,
        token=creds.token,
        timeout=args.timeout,
        ca_bundle=ca_bundle,
        insecure=insecure,
        workers=args.workers,
        max_attempts=args.max_attempts,
    )


def _write_snapshot(snapshot, output: str, out: TextIO) -> None:  # type: ignore[no-untyped-def]
    from posture import snapshot as snapshot_io

    if output == "-":
        out.write(snapshot_io.dumps(snapshot))
        out.flush()
    else:
        snapshot_io.save(snapshot, Path(output))


def _parse_shard(args: argparse.Namespace) -> tuple[int, int] | None:
    from posture.merge import parse_shard

    return parse_shard(args.shard) if args.shard is not None else None


def cmd_snapshot(args: argparse.Namespace) -> int:
    from posture import summary
    from posture.gitlab.crawl import CrawlOptions

    _check_output(args.output)
    shard = _parse_shard(args)
    sections = _sections_for(_load_baseline(args.baseline)) if args.baseline else None
    config = _client_config(args)
    options = CrawlOptions(
        groups=tuple(args.group or ()),
        all_groups=bool(args.all),
        workers=args.workers,
        shard=shard,
        sections=sections,
    )
    snapshot = _crawl(config, options, args)
    _write_snapshot(snapshot, args.output, sys.stdout)
    if not args.quiet:
        stream = sys.stderr if args.output == "-" else sys.stdout
        written = None if args.output == "-" else args.output
        stream.write(summary.render(snapshot, output=written))
    if args.strict and not snapshot.meta.complete:
        raise IncompleteAuditError(
            f"{len(snapshot.meta.errors)} section(s) could not be collected (--strict)"
        )
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    """Combine shard snapshots; every refusal is one line and exit 2 (MergeError)."""
    from posture import summary
    from posture.merge import load_shards, merge

    _check_output(args.output)
    shards = load_shards(args.shards)
    merged = merge([snap for _name, snap in shards], names=[name for name, _snap in shards])
    _write_snapshot(merged, args.output, sys.stdout)
    if not args.quiet:
        stream = sys.stderr if args.output == "-" else sys.stdout
        written = None if args.output == "-" else args.output
        stream.write(f"Merged {len(shards)} shard(s)\n")
        stream.write(summary.render(merged, output=written))
    if args.strict and not merged.meta.complete:
        raise IncompleteAuditError(
            f"{len(merged.meta.errors)} section(s) could not be collected (--strict)"
        )
    return EXIT_OK


def _load_baseline(name: str | None):  # type: ignore[no-untyped-def]
    from posture.baseline import DEFAULT_BASELINE, load_baseline

    return load_baseline(name or DEFAULT_BASELINE)


def _use_color(args: argparse.Namespace) -> bool:
    return (
        args.format == "table"
        and not args.output
        and sys.stdout.isatty()
        and "NO_COLOR" not in os.environ
    )


def _report_targets(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Parse and check every --report FORMAT=PATH before any slow work starts."""
    targets = []
    for spec in args.report:
        fmt, sep, path = spec.partition("=")
        if not sep or not path:
            raise ConfigError(f"--report wants FORMAT=PATH, got '{spec}'")
        if fmt not in FORMAT_CHOICES:
            raise ConfigError(
                f"--report: unknown format '{fmt}' (one of: {', '.join(FORMAT_CHOICES)})"
            )
        _check_output(path)
        targets.append((fmt, Path(path)))
    if args.output:
        _check_output(args.output)
    return targets


def _emit(report, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """Print or write every requested format, then turn the findings into the exit code."""
    from posture.findings import Status
    from posture.report import Format, render
    from posture.snapshot import write_atomic

    fail_on = args.fail_on if args.fail_on != "none" else None
    for fmt, path in _report_targets(args):
        write_atomic(path, render(report, Format(fmt), fail_on=fail_on))
    text = render(report, Format(args.format), color=_use_color(args), fail_on=fail_on)
    if args.output:
        write_atomic(Path(args.output), text)
    elif not args.quiet or args.format != "table":
        sys.stdout.write(text)
    if not args.quiet and (args.output or args.report):
        s = report.summary.by_status
        written = ", ".join(
            [*(p for p in [args.output] if p), *(r.split("=", 1)[1] for r in args.report)]
        )
        print(
            f"posture: {report.summary.total} checks, {s['fail']} fail, {s['unknown']} "
            f"unknown, {s['waived']} waived; written: {written}",
            file=sys.stderr,
        )
    if args.fail_on != "none" and report.failing(args.fail_on):
        return EXIT_VIOLATIONS
    fail_on_drift = getattr(args, "fail_on_drift", "none")
    if report.drift is not None and report.drift.failing(fail_on_drift):
        return EXIT_VIOLATIONS
    if args.strict and report.summary.by_status.get(Status.UNKNOWN.value, 0):
        raise IncompleteAuditError(
            f"{report.summary.by_status[Status.UNKNOWN.value]} result(s) unknown because data "
            "could not be collected (--strict)"
        )
    return EXIT_OK


def _report(  # type: ignore[no-untyped-def]
    snapshot, baseline, args: argparse.Namespace, previous=None, client_config=None
) -> int:
    from posture.evaluate import evaluate

    report = evaluate(snapshot, baseline)
    if previous is not None:
        drift = _drift(previous, snapshot, client_config, offline_reason="posture check is offline")
        report = report.model_copy(update={"drift": drift})
    return _emit(report, args)


def _load_previous(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Read --previous before any slow work, so a wrong path fails in a second."""
    from posture import snapshot as snapshot_io

    path = getattr(args, "previous", None)
    return snapshot_io.load(Path(path)) if path else None


def _same_instance_or_fail(previous, url: str) -> None:  # type: ignore[no-untyped-def]
    from posture.gitlab.client import normalise_base_url

    if previous is not None and normalise_base_url(previous.meta.gitlab_url) != (
        normalise_base_url(url)
    ):
        raise ConfigError(
            f"--previous is a snapshot of {previous.meta.gitlab_url}, not of {url}; "
            "drift compares two crawls of the same instance"
        )


def _drift(old, new, client_config, *, offline_reason: str):  # type: ignore[no-untyped-def]
    """Diff two snapshots and, with a client configuration, attach audit-event authors."""
    from posture.drift.engine import diff_snapshots
    from posture.drift.model import AuthorLookup

    drift = diff_snapshots(old, new)
    if client_config is None:
        return drift.model_copy(
            update={"authors": AuthorLookup(status="not_requested", message=offline_reason)}
        )
    from posture.drift.authors import attach_authors
    from posture.gitlab.client import GitLabClient

    try:
        with GitLabClient(client_config) as client:
            return attach_authors(drift, client, workers=min(client_config.workers, 8))
    except PostureError as exc:
        return drift.model_copy(update={"authors": AuthorLookup(status="error", message=str(exc))})


def _author_client_config(args: argparse.Namespace, snapshot_url: str):  # type: ignore[no-untyped-def]
    """The client configuration for audit events, or (None, why not).

    The token is only ever sent to an instance the user named (--url, GITLAB_URL or the
    python-gitlab config): a snapshot file alone never decides where a token goes.
    """
    from posture.gitlab.client import normalise_base_url

    if args.no_audit_events:
        return None, "--no-audit-events"
    try:
        config = _client_config(args)
    except PostureError as exc:
        text = str(exc)
        if text.startswith(("no GitLab URL", "no GitLab token")):
            return None, (
                f"set GITLAB_URL={snapshot_url} and GITLAB_TOKEN (or --token-file) "
                "to see who made each change, or pass --no-audit-events"
            )
        raise
    if normalise_base_url(config.url) != normalise_base_url(snapshot_url):
        return None, (
            f"the configured GitLab ({config.url}) is not the snapshots' "
            f"instance ({snapshot_url}); the token is not sent elsewhere"
        )
    return config, ""


def cmd_diff(args: argparse.Namespace) -> int:
    from posture import snapshot as snapshot_io
    from posture.report import Format, render_drift
    from posture.snapshot import write_atomic

    if args.output:
        _check_output(args.output)
    old = snapshot_io.load(Path(args.old))
    new = snapshot_io.load(Path(args.new))
    config, why_not = _author_client_config(args, new.meta.gitlab_url)
    drift = _drift(old, new, config, offline_reason=why_not)
    color = args.format == "table" and not args.output and sys.stdout.isatty()
    color = color and "NO_COLOR" not in os.environ
    text = render_drift(
        drift, Format(args.format), color=color, fail_on=args.fail_on, strict=args.strict
    )
    if args.output:
        write_atomic(Path(args.output), text)
        if not args.quiet:
            counts = drift.summary.by_classification
            print(
                f"posture: {drift.summary.total} changes, {counts['weakening']} weakening, "
                f"{counts['unknown']} unknown; written: {args.output}",
                file=sys.stderr,
            )
    else:
        sys.stdout.write(text)
    return EXIT_VIOLATIONS if drift.failing(args.fail_on, strict=args.strict) else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Convert a saved findings file without crawling or evaluating again."""
    from posture.findings import loads

    _report_targets(args)
    try:
        text = Path(args.findings).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read findings file {args.findings}: {exc}") from None
    return _emit(loads(text, source=args.findings), args)


def cmd_audit(args: argparse.Namespace) -> int:
    from posture.gitlab.crawl import CrawlOptions

    _report_targets(args)
    if args.save_snapshot:
        _check_output(args.save_snapshot)
    baseline = _load_baseline(args.baseline)  # a bad baseline fails before a long crawl
    previous = _load_previous(args)
    shard = _parse_shard(args)
    config = _client_config(args)
    _same_instance_or_fail(previous, config.url)
    options = CrawlOptions(
        groups=tuple(args.group or ()),
        all_groups=bool(args.all),
        workers=args.workers,
        shard=shard,
        sections=None if args.full_crawl else _sections_for(baseline),
    )
    snapshot = _crawl(config, options, args)
    if args.save_snapshot:
        _write_snapshot(snapshot, args.save_snapshot, sys.stdout)
    return _report(snapshot, baseline, args, previous, config)


def cmd_check(args: argparse.Namespace) -> int:
    from posture import snapshot as snapshot_io

    _report_targets(args)
    baseline = _load_baseline(args.baseline)
    previous = _load_previous(args)
    snapshot = snapshot_io.load(Path(args.snapshot))
    _same_instance_or_fail(previous, snapshot.meta.gitlab_url)
    _warn_missing_sections(baseline, snapshot)
    return _report(snapshot, baseline, args, previous)


def _sections_for(baseline) -> frozenset[str]:  # type: ignore[no-untyped-def]
    from posture.rules.needs import sections_for

    return sections_for(baseline)


def _warn_missing_sections(baseline, snapshot) -> None:  # type: ignore[no-untyped-def]
    """A snapshot crawled for a smaller baseline lacks data this one needs: say so once,
    even with -q (a warning, not progress)."""
    from posture.rules.needs import missing_sections

    missing = missing_sections(baseline, snapshot.meta.sections)
    if missing:
        print(
            f"posture: warning: the snapshot was crawled for another baseline and skipped "
            f"{len(missing)} section(s) this one needs ({', '.join(sorted(missing)[:4])}"
            f"{', …' if len(missing) > 4 else ''}); their rules report unknown. Crawl with "
            f"--baseline {baseline.name} or without --baseline.",
            file=sys.stderr,
        )


def cmd_rules(args: argparse.Namespace) -> int:
    from posture.rules import REGISTRY, catalog

    if args.rules_command == "explain":
        if args.rule_id not in REGISTRY:
            import difflib

            close = difflib.get_close_matches(args.rule_id, list(REGISTRY), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown rule id '{args.rule_id}'{hint}; see `posture rules`")
        sys.stdout.write(catalog.explain(args.rule_id))
        return EXIT_OK
    renderers = {
        "table": catalog.render_table,
        "json": catalog.render_json,
        "markdown": catalog.render_markdown,
    }
    sys.stdout.write(renderers[args.format]())
    return EXIT_OK


def cmd_baseline(args: argparse.Namespace) -> int:
    import json

    from posture.baseline import load_baseline

    if args.baseline_command == "validate":
        baseline = load_baseline(args.file)
        enabled = len(baseline.enabled_rules())
        print(
            f"{args.file}: valid baseline '{baseline.name}' ({enabled} rules enabled, "
            f"{len(baseline.waivers)} waivers, {baseline.digest})"
        )
        return EXIT_OK
    if args.baseline_command == "show":
        baseline = load_baseline(args.file)
        if args.format == "json":
            sys.stdout.write(json.dumps(baseline.resolved(), indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(baseline.to_yaml())
        return EXIT_OK
    from posture import snapshot as snapshot_io
    from posture.baseline.init import starter_baseline
    from posture.snapshot import write_atomic

    snapshot = snapshot_io.load(Path(args.from_snapshot)) if args.from_snapshot else None
    text = starter_baseline(snapshot)
    if args.output:
        _check_output(args.output)
        write_atomic(Path(args.output), text)
        print(f"posture: starter baseline written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from posture.gitlab.client import ClientConfig
    from posture.gitlab.crawl import CrawlOptions
    from posture.sandbox import DEMO_INSTANCE_PATH, Sandbox, load_instance

    _report_targets(args)
    if args.save_snapshot:
        _check_output(args.save_snapshot)
    baseline = _load_baseline(args.baseline)
    instance = load_instance(DEMO_INSTANCE_PATH)
    if args.drift:
        return _demo_drift(args, instance)
    with Sandbox(instance, tier=args.tier) as sandbox:
        top = sorted({g.full_path for g in instance.top_level_groups()})
        if not args.quiet:
            print(
                f"Demo: sandbox GitLab at {sandbox.url} ({args.tier}); crawling "
                f"{', '.join(top)} with the {args.role} token",
                file=sys.stderr,
            )
        config = ClientConfig(
            url=sandbox.url, token=sandbox.token_for(args.role), workers=args.workers
        )
        options = CrawlOptions(groups=tuple(top), workers=args.workers)
        snapshot = _crawl(config, options, args)
    if args.save_snapshot:
        _write_snapshot(snapshot, args.save_snapshot, sys.stdout)
    return _report(snapshot, baseline, args)


def _demo_drift(args: argparse.Namespace, instance) -> int:  # type: ignore[no-untyped-def]
    """Crawl the demo, change it through its API as two people, crawl again, show the drift."""
    from posture.drift.demo import apply_demo_changes
    from posture.gitlab.client import ClientConfig
    from posture.gitlab.crawl import CrawlOptions
    from posture.report import Format, render_drift
    from posture.sandbox import Sandbox
    from posture.snapshot import write_atomic

    if args.format not in DRIFT_FORMAT_CHOICES:
        raise ConfigError(
            f"--drift renders {', '.join(DRIFT_FORMAT_CHOICES)}; not --format {args.format}"
        )
    with Sandbox(instance, tier=args.tier) as sandbox:
        top = sorted({g.full_path for g in instance.top_level_groups()})
        config = ClientConfig(
            url=sandbox.url, token=sandbox.token_for(args.role), workers=args.workers
        )
        options = CrawlOptions(groups=tuple(top), workers=args.workers)
        say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
        say(f"Demo: sandbox GitLab at {sandbox.url} ({args.tier}); first crawl ({args.role})")
        before = _crawl(config, options, args)
        tokens = {"admin": sandbox.token_for("admin"), "owner": sandbox.token_for("owner_api")}
        for intent in apply_demo_changes(sandbox.url, tokens):
            say(f"  changed: {intent}")
        say("Demo: second crawl")
        after = _crawl(config, options, args)
        drift = _drift(before, after, config, offline_reason="")
    if args.save_snapshot:
        _write_snapshot(after, args.save_snapshot, sys.stdout)
    color = args.format == "table" and not args.output and sys.stdout.isatty()
    color = color and "NO_COLOR" not in os.environ
    text = render_drift(drift, Format(args.format), color=color, fail_on="weakening")
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _read_key(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror or exc}") from None


def cmd_evidence(args: argparse.Namespace) -> int:
    from posture import evidence

    if args.evidence_command == "verify":
        try:
            data = Path(args.bundle).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read bundle {args.bundle}: {exc.strerror or exc}") from None
        key = _read_key(args.key_file) if args.key_file else None
        result = evidence.verify_bundle(data, key=key)
        for problem in result.problems:
            print(f"posture: {problem}", file=sys.stderr if not result.ok else sys.stdout)
        if result.ok:
            print(f"{args.bundle}: valid")
            return EXIT_OK
        print(f"{args.bundle}: NOT valid ({len(result.problems)} problem(s))")
        return EXIT_VIOLATIONS
    if args.evidence_command == "keygen":
        from posture.snapshot import write_atomic

        for path in (args.private, args.public):
            _check_output(path)
        private, public = evidence.generate_key()
        write_atomic(Path(args.private), private.decode())
        write_atomic(Path(args.public), public.decode())
        os.chmod(args.public, 0o644)
        print(f"posture: wrote {args.private} (keep secret) and {args.public} (give to auditors)")
        return EXIT_OK

    from posture import snapshot as snapshot_io
    from posture.evaluate import evaluate
    from posture.snapshot import write_atomic_bytes

    if not args.output:
        raise ConfigError("evidence needs -o BUNDLE.zip")
    if not (args.snapshot or args.group or args.all):
        raise ConfigError("evidence needs --snapshot FILE, or --group/--all to crawl")
    _check_output(args.output)
    key = _read_key(args.sign_key_file) if args.sign_key_file else None
    baseline = _load_baseline(args.baseline)
    previous = snapshot_io.load(Path(args.previous)) if args.previous else None
    live_config = None
    if args.snapshot:
        snapshot = snapshot_io.load(Path(args.snapshot))
    else:
        from posture.gitlab.crawl import CrawlOptions

        options = CrawlOptions(
            groups=tuple(args.group or ()), all_groups=bool(args.all), workers=args.workers
        )
        live_config = _client_config(args)
        _same_instance_or_fail(previous, live_config.url)
        snapshot = _crawl(live_config, options, args)
    report = evaluate(snapshot, baseline)
    drift = None
    if previous is not None:
        _same_instance_or_fail(previous, snapshot.meta.gitlab_url)
        drift = _drift(
            previous,
            snapshot,
            live_config,
            offline_reason="the bundle was built from a saved snapshot",
        )
        report = report.model_copy(update={"drift": drift})
    files = [Path(s) for s in baseline.sources if Path(s).is_file()]
    bundle = evidence.build_bundle(
        snapshot=snapshot,
        report=report,
        baseline=baseline,
        baseline_files=files,
        period=args.period,
        command_line=["posture", *args.argv],
        signing_key=key,
        previous=previous,
        drift=drift,
    )
    write_atomic_bytes(Path(args.output), bundle)
    if not args.quiet:
        signed = "signed" if key else "unsigned"
        print(
            f"posture: evidence bundle {args.output} ({len(bundle):,} bytes, {signed}); "
            f"verify with: posture evidence verify {args.output}"
            + (" --key-file PUBLIC.pem" if key else ""),
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from posture.sandbox.cli import serve

    return serve(args)


COMMANDS = {
    "snapshot": cmd_snapshot,
    "merge": cmd_merge,
    "audit": cmd_audit,
    "check": cmd_check,
    "report": cmd_report,
    "evidence": cmd_evidence,
    "diff": cmd_diff,
    "rules": cmd_rules,
    "baseline": cmd_baseline,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox_serve,
}


@contextlib.contextmanager
def _logging(debug: bool) -> Iterator[None]:
    """Send posture's logs to stderr for one run, then put the logger back as it was.

    Restoring matters for embedders and tests that call ``main()`` more than once.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("posture: %(levelname)s %(name)s: %(message)s"))
    saved = (log.handlers[:], log.level, log.propagate)
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if debug else logging.WARNING)
    log.propagate = False
    try:
        yield
    finally:
        log.handlers[:], log.level, log.propagate = saved


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    with _logging(debug):
        return _run(argv, debug)


def _run(argv: list[str], debug: bool) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)
            args.argv = list(argv)
        except SystemExit as exit_:  # --help, --version, usage errors (already printed)
            return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
        return COMMANDS[args.command](args)
    except PostureError as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"posture: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("posture: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a traceback.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(
            f"posture: internal error ({exc.__class__.__name__}); rerun with --debug and report it",
            file=sys.stderr,
        )
        return EXIT_ERROR


def console_main() -> None:  # pragma: no cover - exercised through subprocess tests
    """The `posture` command: main() plus what only a real process should do.

    SIGTERM (CI cancelling a job) is handled like Ctrl+C. After an interrupt the process
    leaves at once with 130: output files are written atomically, so nothing half-written
    exists, and waiting for requests still in flight in worker threads (up to --timeout)
    would only delay the stop.
    """
    import signal

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    code = main()
    if code == EXIT_INTERRUPTED:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    raise SystemExit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
