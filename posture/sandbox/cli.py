"""`posture sandbox serve`: run the sandbox in the foreground until interrupted.

Why here and not in `posture.cli`: the lead wires sub-commands; this module owns the options
and the serving loop. It raises posture's error types and never exits the process itself.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING, TextIO

from posture.errors import ConfigError
from posture.sandbox import DEMO_INSTANCE_PATH, Sandbox, generate_instance, load_instance

if TYPE_CHECKING:
    from posture.sandbox.instance import Instance


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `posture sandbox serve`."""
    parser.add_argument(
        "--instance",
        metavar="FILE",
        help="instance description (YAML); default: the packaged demo instance",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--tier", choices=["free", "premium"], default=None, help="licence tier")
    parser.add_argument("--edition", choices=["ee", "ce"], default="ee", help="GitLab edition")
    parser.add_argument(
        "--role",
        choices=["admin", "owner", "owner_api"],
        default="admin",
        help=(
            "whose token to print (admin: instance admin; owner: non-admin member, read_api; "
            "owner_api: the same member with an api token, which may change the sandbox)"
        ),
    )
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every answer")
    parser.add_argument(
        "--rate-limit",
        metavar="N/SECONDS",
        default=None,
        help="throttle each token to N requests per SECONDS (answers 429 beyond)",
    )
    parser.add_argument("--path-prefix", default="", help="serve the API under PREFIX/api/v4")
    parser.add_argument(
        "--generate-projects",
        type=int,
        metavar="N",
        default=None,
        help="serve a synthetic instance with N projects instead of a file",
    )
    parser.add_argument("--generate-groups", type=int, metavar="N", default=None)
    parser.add_argument("--seed", type=int, default=1, help="seed for --generate-*")


def parse_rate_limit(text: str | None) -> tuple[int, float] | None:
    """`N/SECONDS` -> (N, SECONDS); a ConfigError says what is wrong."""
    if text is None:
        return None
    count, sep, period = text.partition("/")
    try:
        parsed = (int(count), float(period))
    except ValueError:
        parsed = (0, 0.0)
    if not sep or parsed[0] < 1 or parsed[1] <= 0:
        raise ConfigError(f"--rate-limit must look like N/SECONDS (e.g. 600/60), not {text!r}")
    return parsed


def build_instance(args: argparse.Namespace) -> Instance:
    """The instance `serve` will answer from, per the options."""
    projects = getattr(args, "generate_projects", None)
    groups = getattr(args, "generate_groups", None)
    if projects is not None or groups is not None:
        if getattr(args, "instance", None):
            raise ConfigError("use either --instance or --generate-*, not both")
        projects = 200 if projects is None else projects
        groups = max(1, projects // 25) if groups is None else groups
        if projects < 0 or groups < 1:
            raise ConfigError("--generate-projects must be >= 0 and --generate-groups >= 1")
        return generate_instance(groups=groups, projects=projects, seed=getattr(args, "seed", 1))
    return load_instance(getattr(args, "instance", None) or DEMO_INSTANCE_PATH)


def serve(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Start the sandbox, print how to reach it, serve until SIGINT/SIGTERM; returns 0."""
    out = out or sys.stdout
    edition = getattr(args, "edition", "ee")
    tier = getattr(args, "tier", None) or ("free" if edition == "ce" else "premium")
    role = getattr(args, "role", "admin")
    sandbox = Sandbox(
        build_instance(args),
        tier=tier,
        edition=edition,
        latency_ms=getattr(args, "latency_ms", 0) or 0,
        rate_limit=parse_rate_limit(getattr(args, "rate_limit", None)),
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 0),
        path_prefix=getattr(args, "path_prefix", "") or "",
    )
    stop = threading.Event()
    previous = _install_handlers(stop)
    try:
        with sandbox:
            print(f"posture sandbox: GitLab {edition.upper()} ({tier}) at {sandbox.url}", file=out)
            print(f"export GITLAB_URL={sandbox.url}", file=out)
            # Sandbox tokens are fake and printed on purpose; they open only this server.
            print(f"export GITLAB_TOKEN={sandbox.token_for(role)}", file=out)
            print("Press Ctrl+C to stop.", file=out, flush=True)
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        _restore_handlers(previous)
    return 0


def _install_handlers(stop: threading.Event) -> dict[int, object]:
    """Route SIGINT/SIGTERM to `stop`; only possible from the main thread."""
    previous: dict[int, object] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda _n, _f: stop.set())
    return previous


def _restore_handlers(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
