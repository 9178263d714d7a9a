"""The terminal table never passes a terminal escape sequence from GitLab data through."""

from __future__ import annotations

from posture import findings as F
from posture.report import Format, render
from tests.reporting import make_report


def test_escape_sequences_in_gitlab_names_do_not_reach_the_terminal() -> None:
    hostile = "main\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x1b[2J"
    finding = F.Finding(
        rule_id="branches.force_push",
        title="Force push is denied on protected branches",
        family="branches",
        severity="high",
        status=F.Status.FAIL,
        target_kind="project",
        target_id=1,
        target_path="acme/web",
        item=hostile,
        message=f"force push allowed on {hostile}",
        fingerprint="f" * 32,
    )
    text = render(make_report([finding]), Format.TABLE, color=False)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "force push allowed on main" in text
