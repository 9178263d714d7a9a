"""The declarative baseline: which rules to run, with which parameters, where; and waivers.

A security team writes a baseline in YAML, reviews it in a merge request, and posture
evaluates a snapshot against it. ``docs/baseline.md`` is the reference.

    from posture.baseline import load_baseline
    baseline = load_baseline("gitlab-hardening")      # a shipped name, or a path
    baseline.settings_for(Target.PROJECT, "acme/web/storefront", visibility="public")
"""

from __future__ import annotations

from posture.baseline.errors import BaselineError
from posture.baseline.load import load_baseline, load_baseline_text
from posture.baseline.model import RuleSetting
from posture.baseline.resolve import Baseline
from posture.baseline.shipped import DEFAULT_BASELINE, shipped_baselines
from posture.baseline.waivers import Waiver, WaiverStatus

__all__ = [
    "DEFAULT_BASELINE",
    "Baseline",
    "BaselineError",
    "RuleSetting",
    "Waiver",
    "WaiverStatus",
    "load_baseline",
    "load_baseline_text",
    "shipped_baselines",
]
