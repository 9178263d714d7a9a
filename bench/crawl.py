"""Crawl benchmark: requests, wall time against the latency floor, memory and rate limits.

``make bench`` (or ``python -m bench.crawl``) generates instances with the sandbox's
``generate_instance``, serves them over loopback HTTP with injected latency, crawls them as
the administrator through posture's real ``GitLabClient`` and ``Crawler``, and prints the
figures issue 8 asks for (docs/performance.md). ``--markdown`` prints the same tables ready
to paste into that page.

Why a child process per crawl: the sandbox serves from this process and each crawl runs in
a freshly spawned one, so the peak RSS reported is the crawler's alone, the server and the
crawler do not share one GIL (as with a real GitLab on another machine), and one crawl's
memory cannot inflate the next one's figure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/crawl.py` from anywhere
    sys.path.insert(0, str(ROOT))

from posture.sandbox import Instance, Sandbox, generate_instance  # noqa: E402

#: Projects per generated group: the issue's instance is 200 groups for 5,000 projects.
PROJECTS_PER_GROUP = 25
#: Targets from issue 8.
MAX_REQUESTS_PER_PROJECT = 10
MAX_FLOOR_RATIO = 1.25
MAX_THROTTLED_SHARE = 0.01
MAX_LIMIT_RATIO = 1.1
MAX_RSS_MB = 300
#: GitLab.com's 2,000 a minute scaled to a 1,000-project crawl (~9,300 requests: ~90 s), in
#: 10 s windows: a crawl must span many fixed windows, or one that straddles a boundary
#: gets two windows' quota and never meets the limit.
DEFAULT_RATE_LIMIT = (1000, 10.0)
TARGET_PROJECTS = 5000
#: Rough cost model for the up-front estimate (measured on the full catalog).
EST_REQUESTS_PER_PROJECT = 9.5
EST_REQUESTS_PER_GROUP = 5.2
EST_SPAWN_SECONDS = 1.5
EST_UNTHROTTLED_RPS = 900.0


@dataclass(frozen=True)
class Run:
    """One crawl to measure."""

    projects: int
    workers: int
    latency_ms: float
    baseline: str = "full"  # "full": every collector; else a shipped baseline's sections
    rate_limit: tuple[int, float] | None = None
    kind: str = "matrix"  # "matrix", "calibration" or "rate-limit"

    @property
    def groups(self) -> int:
        return max(1, self.projects // PROJECTS_PER_GROUP)


@dataclass(frozen=True)
class Job:
    """What the child process needs to crawl; the fake sandbox token stays out of repr."""

    url: str
    token: str = field(repr=False)
    workers: int
    all_groups: bool
    groups: tuple[str, ...]
    sections: frozenset[str] | None


@dataclass
class Result:
    """One crawl's figures: client-side counts from the child, server-side from the log."""

    run: Run
    projects: int
    requests: int
    by_endpoint: dict[str, int]
    duplicates: int
    wall: float
    crawl_rss_mb: float  # peak before the snapshot is serialised
    rss_mb: float  # peak including writing the snapshot file
    client_cpu: float
    server_cpu: float
    throttled: int
    rate_limit_wait: float
    runner_mode: str

    @property
    def per_project(self) -> float:
        return self.requests / self.projects if self.projects else 0.0

    @property
    def floor(self) -> float:
        """The wall a perfect crawler needs: every request waits the latency, W at a time."""
        return self.requests * self.run.latency_ms / 1000 / self.run.workers

    @property
    def floor_ratio(self) -> float | None:
        return self.wall / self.floor if self.floor else None

    @property
    def limit_floor(self) -> float | None:
        """The wall the rate limit imposes: requests ÷ (limit per second)."""
        if self.run.rate_limit is None:
            return None
        limit, period = self.run.rate_limit
        return self.requests / (limit / period)

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0


# -- the child: one crawl -----------------------------------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB.

    On Linux, VmHWM: ``ru_maxrss`` of a spawned child starts from its parent's peak (the
    kernel keeps the high-water mark across fork and exec), which would count the sandbox's
    memory as the crawler's. Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _crawl(job: Job) -> dict[str, Any]:
    """Crawl and save the snapshot as `posture snapshot` would; report the client's view."""
    from posture import snapshot as snapshot_io
    from posture.gitlab.client import ClientConfig, GitLabClient
    from posture.gitlab.crawl import Crawler, CrawlOptions

    client = GitLabClient(ClientConfig(url=job.url, token=job.token, workers=job.workers))
    try:
        crawler = Crawler(
            client,
            CrawlOptions(
                groups=job.groups,
                all_groups=job.all_groups,
                workers=job.workers,
                sections=job.sections,
            ),
        )
        cpu_start, start = time.process_time(), time.perf_counter()
        snapshot = crawler.run()
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        stats = client.stats.snapshot()
    finally:
        client.close()
    crawl_rss = _peak_rss_mb()
    with tempfile.TemporaryDirectory(prefix="posture-bench-") as tmp:
        snapshot_io.save(snapshot, Path(tmp) / "snapshot.json")
    return {
        "projects": len(snapshot.projects),
        "requests": stats["total"],
        "by_endpoint": stats["by_endpoint"],
        "client_duplicates": len(stats["duplicates"]),
        "rate_limit_wait": stats["rate_limit_wait_seconds"],
        "wall": wall,
        "cpu": cpu,
        "crawl_rss_mb": crawl_rss,
        "rss_mb": _peak_rss_mb(),
        "runner_mode": crawler.runner_mode,
    }


def _child(job: Job, out: Connection) -> None:
    """Entry point of the spawned process: send back figures or a one-line failure."""
    try:
        result = _crawl(job)
    except Exception as exc:  # reported to the parent, which stops the bench
        result = {"error": f"{type(exc).__name__}: {exc}"}
    out.send(result)
    out.close()


class BenchError(RuntimeError):
    """A crawl failed or the child died: the figures would be meaningless."""


def crawl_in_child(job: Job) -> tuple[dict[str, Any], float]:
    """Run one crawl in a spawned process; returns its figures and the server's CPU time."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(job, send), name="posture-bench-crawl")
    process.start()
    send.close()
    # CPU time of this process while the child crawls: the sandbox's threads, nothing else.
    server_cpu_start = time.process_time()
    try:
        result = receive.recv()
    except EOFError:
        result = {"error": "the crawling process died without a result"}
    server_cpu = time.process_time() - server_cpu_start
    process.join()
    if "error" in result:
        raise BenchError(result["error"])
    return result, server_cpu


# -- the parent: sandboxes and the matrix ---------------------------------------------------


@dataclass
class Options:
    sizes: list[int]
    workers: list[int]
    latency_ms: float
    rate_limit: tuple[int, float] | None
    rate_limit_projects: int
    rate_limit_workers: int
    detail_projects: int
    full_matrix: bool
    baseline: str | None
    scope: str
    role: str
    tier: str
    seed: int
    calibrate_projects: int | None


def plan(opts: Options) -> list[Run]:
    """The crawls to run. Workers 1 only on the smallest size unless --full-matrix: at
    25 ms it costs ~4 minutes per 1,000 projects and shows nothing the smallest does not."""
    runs: list[Run] = []
    smallest = min(opts.sizes)
    if opts.calibrate_projects:
        runs.append(Run(opts.calibrate_projects, max(opts.workers), 0.0, kind="calibration"))
    for size in sorted(opts.sizes):
        for workers in sorted(opts.workers):
            if workers == 1 and size != smallest and not opts.full_matrix:
                continue
            runs.append(Run(size, workers, opts.latency_ms))
    if opts.baseline:
        runs.append(Run(opts.detail_projects, max(opts.workers), opts.latency_ms, opts.baseline))
    if opts.rate_limit is not None:
        runs.append(
            Run(
                opts.rate_limit_projects,
                opts.rate_limit_workers,
                opts.latency_ms,
                rate_limit=opts.rate_limit,
                kind="rate-limit",
            )
        )
    return runs


def estimate_seconds(run: Run) -> float:
    """A rough wall time for one crawl, to print before a 20-minute run starts."""
    factor = 0.6 if run.baseline != "full" else 1.0
    requests = factor * (
        run.projects * EST_REQUESTS_PER_PROJECT + run.groups * EST_REQUESTS_PER_GROUP + 20
    )
    wall = requests * run.latency_ms / 1000 / run.workers * 1.1
    wall = max(wall, requests / EST_UNTHROTTLED_RPS)
    if run.rate_limit is not None:
        limit, period = run.rate_limit
        wall = max(wall, requests / (limit / period))
    return wall + EST_SPAWN_SECONDS + run.projects / 10_000  # + generating and serving


def _sections(baseline: str) -> frozenset[str] | None:
    if baseline == "full":
        return None
    from posture.baseline import load_baseline
    from posture.rules.needs import sections_for

    return sections_for(load_baseline(baseline))


class Bench:
    """Runs the plan, one sandbox at a time, instances generated once per size."""

    def __init__(self, opts: Options, log: Any = sys.stderr) -> None:
        self.opts = opts
        self.log = log
        self._instances: dict[int, Instance] = {}

    def instance(self, projects: int) -> Instance:
        if projects not in self._instances:
            self._instances = {}  # keep one generated instance in memory at a time
            groups = max(1, projects // PROJECTS_PER_GROUP)
            self._instances[projects] = generate_instance(
                groups=groups, projects=projects, seed=self.opts.seed
            )
        return self._instances[projects]

    def run_all(self, runs: Sequence[Run]) -> list[Result]:
        results: list[Result] = []
        key = lambda r: (r.projects, r.latency_ms, r.rate_limit)  # noqa: E731
        order = sorted(runs, key=lambda r: (r.kind == "rate-limit", r.projects, r.latency_ms))
        current: tuple[Any, ...] | None = None
        sandbox: Sandbox | None = None
        try:
            for run in order:
                if key(run) != current:
                    if sandbox is not None:
                        sandbox.stop()
                    sandbox = Sandbox(
                        self.instance(run.projects),
                        tier=self.opts.tier,
                        latency_ms=run.latency_ms,
                        rate_limit=run.rate_limit,
                    ).start()
                    current = key(run)
                assert sandbox is not None
                results.append(self.measure(sandbox, run))
        finally:
            if sandbox is not None:
                sandbox.stop()
        return results

    def measure(self, sandbox: Sandbox, run: Run) -> Result:
        all_groups = self.opts.scope == "all"
        groups = (
            () if all_groups else tuple(g.full_path for g in sandbox.instance.top_level_groups())
        )
        job = Job(
            url=sandbox.url,
            token=sandbox.token_for(self.opts.role),
            workers=run.workers,
            all_groups=all_groups,
            groups=groups,
            sections=_sections(run.baseline),
        )
        sandbox.reset_log()
        if run.rate_limit is not None:
            # Start at a fresh window of the sandbox's fixed-window limiter, so the figure
            # does not depend on where in a window the crawl happened to begin.
            period = run.rate_limit[1]
            time.sleep(period - time.time() % period)
        figures, server_cpu = crawl_in_child(job)
        log = sandbox.request_log
        throttled = sum(1 for entry in log if entry.status == 429)
        server_duplicates = sum(n - 1 for n in sandbox.duplicate_requests().values())
        result = Result(
            run=run,
            projects=figures["projects"],
            requests=figures["requests"],
            by_endpoint=figures["by_endpoint"],
            duplicates=max(server_duplicates, figures["client_duplicates"]),
            wall=figures["wall"],
            crawl_rss_mb=figures["crawl_rss_mb"],
            rss_mb=figures["rss_mb"],
            client_cpu=figures["cpu"],
            server_cpu=server_cpu,
            throttled=throttled,
            rate_limit_wait=figures["rate_limit_wait"],
            runner_mode=figures["runner_mode"],
        )
        self.log.write(
            f"  {run.kind:<11} {run.projects:>6} projects  {run.workers:>2} workers  "
            f"{run.baseline:<8} {result.requests:>7} requests  {result.wall:7.1f} s  "
            f"{result.rss_mb:5.0f} MB  {throttled} x 429\n"
        )
        self.log.flush()
        return result


# -- tables ---------------------------------------------------------------------------------


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def main_table(results: Iterable[Result]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "projects",
        "groups",
        "workers",
        "baseline",
        "requests",
        "req/project",
        "duplicates",
        "wall s",
        "floor s",
        "wall/floor",
        "peak RSS MB",
        "peak before save MB",
        "429s",
        "client CPU",
        "server CPU",
    ]
    rows = [
        [
            r.run.projects,
            r.run.groups,
            r.run.workers,
            r.run.baseline,
            r.requests,
            f"{r.per_project:.2f}",
            r.duplicates,
            f"{r.wall:.1f}",
            f"{r.floor:.1f}",
            _ratio(r.floor_ratio),
            f"{r.rss_mb:.0f}",
            f"{r.crawl_rss_mb:.0f}",
            r.throttled,
            _pct(r.client_cpu, r.wall),
            _pct(r.server_cpu, r.wall),
        ]
        for r in results
        if r.run.kind == "matrix"
    ]
    return headers, rows


def endpoint_table(full: Result, minimal: Result | None) -> tuple[list[str], list[list[Any]]]:
    headers = ["endpoint", "requests", "per project"]
    if minimal is not None:
        headers += [f"{minimal.run.baseline}: requests", f"{minimal.run.baseline}: per project"]
    names = sorted(
        set(full.by_endpoint) | set(minimal.by_endpoint if minimal else ()),
        key=lambda e: (-full.by_endpoint.get(e, 0), e),
    )
    rows: list[list[Any]] = []
    for name in [*names, "total"]:
        count = full.requests if name == "total" else full.by_endpoint.get(name, 0)
        row: list[Any] = [name, count, f"{count / full.projects:.3f}"]
        if minimal is not None:
            other = minimal.requests if name == "total" else minimal.by_endpoint.get(name, 0)
            row += [other, f"{other / minimal.projects:.3f}"]
        rows.append(row)
    return headers, rows


def rate_limit_table(results: Iterable[Result]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "projects",
        "workers",
        "limit",
        "requests",
        "429s",
        "429 share",
        "wall s",
        "requests ÷ limit s",
        "wall ÷ (requests ÷ limit)",
        "paced s",
        "peak RSS MB",
    ]
    rows = []
    for r in results:
        if r.run.kind != "rate-limit" or r.run.rate_limit is None:
            continue
        limit, period = r.run.rate_limit
        rows.append(
            [
                r.projects,
                r.run.workers,
                f"{limit}/{period:g} s",
                r.requests,
                r.throttled,
                f"{100 * r.throttled_share:.2f}%",
                f"{r.wall:.1f}",
                f"{r.limit_floor:.1f}",
                _ratio(r.wall / r.limit_floor if r.limit_floor else None),
                f"{r.rate_limit_wait:.1f}",
                f"{r.rss_mb:.0f}",
            ]
        )
    return headers, rows


def calibration_table(results: Iterable[Result]) -> tuple[list[str], list[list[Any]]]:
    headers = ["projects", "workers", "latency", "requests", "wall s", "requests/s"]
    headers += ["client CPU ms/request", "server CPU ms/request", "client max req/s"]
    headers += ["server max req/s"]
    rows = [
        [
            r.projects,
            r.run.workers,
            f"{r.run.latency_ms:g} ms",
            r.requests,
            f"{r.wall:.1f}",
            f"{r.requests / r.wall:.0f}",
            f"{1000 * r.client_cpu / r.requests:.2f}",
            f"{1000 * r.server_cpu / r.requests:.2f}",
            f"{r.requests / r.client_cpu:.0f}",
            f"{r.requests / r.server_cpu:.0f}",
        ]
        for r in results
        if r.run.kind == "calibration" and r.requests and r.client_cpu and r.server_cpu
    ]
    return headers, rows


def _find(results: Sequence[Result], **want: Any) -> list[Result]:
    return [
        r
        for r in results
        if all(getattr(r.run, k) == v for k, v in want.items() if k != "workers_min")
        and r.run.workers >= want.get("workers_min", 1)
    ]


def targets_table(results: Sequence[Result], opts: Options) -> tuple[list[str], list[list[Any]]]:
    """Each target of issue 8 with the figure measured here and whether it is met."""
    headers = ["target", "measured", "met"]
    rows: list[list[Any]] = []

    def row(target: str, measured: str, met: bool | None) -> None:
        rows.append([target, measured, "n/a" if met is None else ("yes" if met else "NO")])

    matrix = [r for r in results if r.run.kind != "calibration"]
    dups = sum(r.duplicates for r in matrix)
    row("no request twice", f"{dups} repeated request(s) in {len(matrix)} crawls", dups == 0)

    full = _find(results, kind="matrix", baseline="full")
    if full:
        worst = max(full, key=lambda r: r.per_project)
        row(
            f"≤ {MAX_REQUESTS_PER_PROJECT} requests per project, full catalog",
            f"max {worst.per_project:.2f} ({worst.projects} projects)",
            worst.per_project <= MAX_REQUESTS_PER_PROJECT,
        )
    minimal = _find(results, kind="matrix", baseline=opts.baseline) if opts.baseline else []
    if minimal:
        m = minimal[0]
        same = _find(full, projects=m.run.projects, workers=m.run.workers)
        if same:
            row(
                f"{m.run.baseline} baseline asks less than the full catalog",
                f"{m.requests} vs {same[0].requests} requests ({m.projects} projects)",
                m.requests < same[0].requests,
            )

    size = TARGET_PROJECTS if TARGET_PROJECTS in opts.sizes else opts.detail_projects
    at_size = _find(full, projects=size, workers_min=8)
    if at_size and opts.latency_ms > 0:
        worst = max(at_size, key=lambda r: r.floor_ratio or 0.0)
        row(
            f"wall ≤ {MAX_FLOOR_RATIO} × floor, ≥ 8 workers, {opts.latency_ms:g} ms, "
            f"{size} projects",
            ", ".join(f"{r.run.workers} workers: {_ratio(r.floor_ratio)}" for r in at_size),
            (worst.floor_ratio or 0.0) <= MAX_FLOOR_RATIO,
        )
    rss = _find(results, kind="matrix", projects=size)
    if rss:
        peak = max(rss, key=lambda r: r.rss_mb)
        row(
            f"peak RSS ≤ {MAX_RSS_MB} MB at {size} projects",
            f"{peak.rss_mb:.0f} MB ({peak.crawl_rss_mb:.0f} MB before writing the snapshot)",
            peak.rss_mb <= MAX_RSS_MB,
        )
    slope = rss_slope(results)
    if slope is not None:
        row("RSS slope (shown, no target)", slope, None)

    for r in _find(results, kind="rate-limit"):
        row(
            f"429s ≤ {100 * MAX_THROTTLED_SHARE:g}% of requests under a rate limit",
            f"{r.throttled} of {r.requests} ({100 * r.throttled_share:.2f}%)",
            r.throttled_share <= MAX_THROTTLED_SHARE,
        )
        ratio = r.wall / r.limit_floor if r.limit_floor else None
        row(
            f"wall ≤ {MAX_LIMIT_RATIO} × (requests ÷ limit)",
            f"{r.wall:.1f} s vs {r.limit_floor:.1f} s: {_ratio(ratio)}",
            ratio is not None and ratio <= MAX_LIMIT_RATIO,
        )
    for r in _find(results, kind="calibration"):
        if not (r.server_cpu and r.client_cpu and opts.latency_ms):
            continue
        needed = max(opts.workers) * 1000 / opts.latency_ms
        server, client = r.requests / r.server_cpu, r.requests / r.client_cpu
        row(
            "sandbox not the bottleneck (its one-core capacity vs the fastest run's demand)",
            f"server {server:.0f} req/s, crawler {client:.0f} req/s per core; "
            f"{max(opts.workers)} workers at {opts.latency_ms:g} ms need {needed:.0f} req/s",
            server >= 2 * needed,
        )
    return headers, rows


def rss_slope(results: Sequence[Result]) -> str | None:
    """Peak RSS growth per 1,000 projects between the smallest and largest full crawls."""
    full = _find(results, kind="matrix", baseline="full")
    if not full:
        return None
    workers = max(r.run.workers for r in full)
    runs = sorted(_find(full, workers=workers), key=lambda r: r.projects)
    if len(runs) < 2 or runs[-1].projects == runs[0].projects:
        return None
    small, large = runs[0], runs[-1]
    per_k = (large.rss_mb - small.rss_mb) / (large.projects - small.projects) * 1000
    return (
        f"{per_k:.1f} MB per 1,000 projects ({small.rss_mb:.0f} MB at {small.projects} → "
        f"{large.rss_mb:.0f} MB at {large.projects}, {workers} workers)"
    )


# -- output ---------------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def provenance() -> str:
    """'measured <date> at commit <sha>' plus the machine, so a pasted table says its origin."""
    sha = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--", "posture") else ""
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    cores = os.cpu_count() or 0
    return (
        f"measured {date} at commit {sha}{dirty}; {cores} cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )


def render(results: Sequence[Result], opts: Options, *, markdown: bool, command: str) -> str:
    fmt = "github" if markdown else "simple"
    out: list[str] = []

    def section(title: str, table: tuple[list[str], list[list[Any]]], note: str = "") -> None:
        headers, rows = table
        if not rows:
            return
        out.append(f"#### {title}\n" if markdown else f"{title}\n{'=' * len(title)}")
        if note:
            out.append(note + ("\n" if markdown else ""))
        out.append(tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True))
        out.append("")

    out.append(f"_{provenance()}_\n" if markdown else provenance())
    out.append(f"`{command}`\n" if markdown else f"command: {command}\n")
    skipped = [
        s for s in opts.sizes if 1 in opts.workers and s != min(opts.sizes) and not opts.full_matrix
    ]
    listing = "--all (keyset GET /projects)" if opts.scope == "all" else "--group per top group"
    scope = f"{opts.role} token, {listing}"
    note = (
        f"Sandbox: generated instance, {PROJECTS_PER_GROUP} projects per group, nesting up "
        f"to 4 deep, tier {opts.tier}, {opts.latency_ms:g} ms latency per request; crawl "
        f"scope {scope}. Floor = requests × latency ÷ workers. CPU = CPU time ÷ wall "
        "(100% = one core; the crawler and the sandbox each run in their own process). "
        "Peak RSS is the crawling process's, snapshot file written as `posture snapshot` "
        "does; peak before save stops after the crawl."
    )
    if skipped:
        note += (
            f" Workers 1 only at {min(opts.sizes)} projects (pass --full-matrix for "
            f"{', '.join(map(str, skipped))})."
        )
    section("Crawl matrix", main_table(results), note)
    full = _find(results, kind="matrix", baseline="full", projects=opts.detail_projects)
    if full:
        chosen = max(full, key=lambda r: r.run.workers)
        minimal = _find(results, kind="matrix", projects=opts.detail_projects)
        other = next((r for r in minimal if r.run.baseline != "full"), None)
        section(
            f"Requests per project by endpoint ({chosen.projects} projects, "
            f"{chosen.run.workers} workers, runner lists {chosen.runner_mode})",
            endpoint_table(chosen, other),
        )
    section(
        "Rate limit",
        rate_limit_table(results),
        "The sandbox throttles the token with fixed windows and sends RateLimit-* headers on "
        "every answer, Retry-After on 429s. Paced = time the client spent waiting on them.",
    )
    section(
        "Sandbox capacity (0 ms latency)",
        calibration_table(results),
        "No injected latency: the pair runs flat out. CPU per request is each process's CPU "
        "time ÷ requests; max req/s is what one core (one GIL) allows each side. A run with "
        "W workers at L ms latency asks for W ÷ L requests per second.",
    )
    section("Targets (issue 8)", targets_table(results, opts))
    return "\n".join(out)


# -- command line ---------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas: {text}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers: {text}")
    return values


def _rate_limit(text: str) -> tuple[int, float] | None:
    if text.lower() in ("off", "none", "0"):
        return None
    count, sep, period = text.partition("/")
    try:
        limit, seconds = int(count), float(period) if sep else 60.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N/SECONDS, e.g. 6000/60: {text}") from None
    if limit < 1 or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected N/SECONDS with N ≥ 1, SECONDS > 0: {text}")
    return limit, seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crawl",
        description="Benchmark posture's crawler against the loopback sandbox (issue 8).",
    )
    parser.add_argument("--sizes", type=_int_list, help="projects per instance (1000,5000,20000)")
    parser.add_argument("--workers", type=_int_list, help="worker counts (default 1,8,16)")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="per request (25)")
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=DEFAULT_RATE_LIMIT,
        metavar="N/SECONDS",
        help="the rate-limited run's limit per token (default 1000/10: 6,000 a minute in "
        "windows short enough that a 1,000-project crawl spans ~10 of them; off to skip)",
    )
    parser.add_argument("--rate-limit-projects", type=int, help="its size (default 1000)")
    parser.add_argument("--rate-limit-workers", type=int, default=8, help="its workers (8)")
    parser.add_argument(
        "--detail-size",
        type=int,
        help="size for the per-endpoint table and the baseline run (5000 if measured)",
    )
    parser.add_argument(
        "--baseline",
        default="minimal",
        help="also crawl with only what this baseline's rules need (default minimal; none to skip)",
    )
    parser.add_argument("--full-matrix", action="store_true", help="workers 1 on every size (slow)")
    parser.add_argument(
        "--scope",
        choices=("all", "groups"),
        default="all",
        help="crawl --all (default) or each top-level group",
    )
    parser.add_argument(
        "--role",
        choices=("admin", "owner"),
        default="admin",
        help="whose token crawls: the administrator (default) or a group Owner, as on "
        "GitLab.com (runner lists then cost one request per project)",
    )
    parser.add_argument("--tier", choices=("premium", "free"), default="premium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--calibrate-projects",
        type=int,
        help="size of the 0 ms run that measures CPU per request (default 1000; 0 to skip)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and a fast limit: a 1-minute smoke"
    )
    parser.add_argument("--markdown", action="store_true", help="tables for docs/performance.md")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and estimate only")
    return parser


def options_from(args: argparse.Namespace) -> Options:
    quick = args.quick
    sizes = args.sizes or ([50, 200] if quick else [1000, 5000, 20000])
    workers = args.workers or [1, 8, 16]
    rate_limit = args.rate_limit
    if quick and rate_limit == DEFAULT_RATE_LIMIT:
        rate_limit = (300, 3.0)
    detail = args.detail_size or (TARGET_PROJECTS if TARGET_PROJECTS in sizes else max(sizes))
    baseline = None if args.baseline.lower() in ("none", "full", "") else args.baseline
    return Options(
        sizes=sizes,
        workers=workers,
        latency_ms=args.latency_ms,
        rate_limit=rate_limit,
        rate_limit_projects=args.rate_limit_projects or (100 if quick else 1000),
        rate_limit_workers=args.rate_limit_workers,
        detail_projects=detail,
        full_matrix=args.full_matrix,
        baseline=baseline,
        scope=args.scope,
        role=args.role,
        tier=args.tier,
        seed=args.seed,
        calibrate_projects=(
            args.calibrate_projects
            if args.calibrate_projects is not None
            else (200 if quick else 1000)
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    opts = options_from(args)
    runs = plan(opts)
    total = sum(estimate_seconds(r) for r in runs)
    command = "python -m bench.crawl " + " ".join(argv if argv is not None else sys.argv[1:])
    sys.stderr.write(
        f"posture crawl benchmark: {len(runs)} crawls, estimated {total / 60:.0f} min "
        f"({total:.0f} s) on this machine; workers 1 only at {min(opts.sizes)} projects"
        f"{' (full matrix)' if opts.full_matrix else ''}\n"
    )
    for run in runs:
        limit = f", limit {run.rate_limit[0]}/{run.rate_limit[1]:g} s" if run.rate_limit else ""
        sys.stderr.write(
            f"  plan: {run.kind:<11} {run.projects:>6} projects {run.workers:>2} workers "
            f"{run.latency_ms:g} ms {run.baseline}{limit}  ~{estimate_seconds(run):.0f} s\n"
        )
    if args.dry_run:
        return 0
    started = time.perf_counter()
    try:
        results = Bench(opts).run_all(runs)
    except BenchError as exc:
        sys.stderr.write(f"bench: a crawl failed: {exc}\n")
        return 1
    sys.stderr.write(f"done in {time.perf_counter() - started:.0f} s\n")
    sys.stdout.write(render(results, opts, markdown=args.markdown, command=command.strip()))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
