"""A loopback GitLab REST v4 server seeded from an instance description.

Users run it with `posture sandbox serve` to try posture; `make demo` audits it; integration
tests and benchmarks crawl it over real HTTP through python-gitlab.
"""

from __future__ import annotations

from pathlib import Path

from posture.sandbox.faults import Fault
from posture.sandbox.generate import generate_instance
from posture.sandbox.instance import Instance, InstanceError, load_instance
from posture.sandbox.server import LoggedRequest, Sandbox

DEMO_INSTANCE_PATH: Path = Path(__file__).with_name("demo-instance.yaml")

__all__ = [
    "DEMO_INSTANCE_PATH",
    "Fault",
    "Instance",
    "InstanceError",
    "LoggedRequest",
    "Sandbox",
    "generate_instance",
    "load_instance",
]
