"""Waivers: what they cover, and when they stop covering it."""

from __future__ import annotations

from datetime import date

import pytest

from posture.baseline import Waiver, WaiverStatus, load_baseline_text

TEXT = """\
name: waivers
waivers:
  - rule: project.visibility
    target: "acme-oss/*"
    reason: Open source
    owner: oss@acme.example
    expires: 2027-03-31
  - rule: group.visibility
    target: acme/web
    item: "hook *"
    reason: Moving to HTTPS
    owner: web@acme.example
    expires: 2026-06-30
"""


@pytest.fixture
def waivers() -> list[Waiver]:
    return load_baseline_text(TEXT, name="w.yaml").waivers


def test_waivers_load_with_every_field_and_their_source(waivers) -> None:
    first, second = waivers
    assert first == Waiver(
        rule="project.visibility",
        target="acme-oss/*",
        item=None,
        reason="Open source",
        owner="oss@acme.example",
        expires=date(2027, 3, 31),
        source="w.yaml:3",
    )
    assert (second.item, second.source) == ("hook *", "w.yaml:8")


@pytest.mark.parametrize(
    ("rule", "target", "item", "covered"),
    [
        ("project.visibility", "acme-oss/cli", None, True),
        ("project.visibility", "ACME-OSS/CLI", "anything", True),  # paths ignore case
        ("project.visibility", "acme-oss/sub/cli", None, False),  # * is one segment
        ("project.visibility", "acme-oss", None, False),
        ("group.visibility", "acme-oss/cli", None, False),  # another rule
    ],
)
def test_target_glob(waivers, rule, target, item, covered) -> None:
    assert waivers[0].matches(rule, target, item) is covered


@pytest.mark.parametrize(
    ("item", "covered"),
    [("hook 12", True), ("hook 3/4", True), ("Hook 12", False), ("key 12", False), (None, False)],
)
def test_item_glob(waivers, item, covered) -> None:
    assert waivers[1].matches("group.visibility", "acme/web", item) is covered


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2026, 6, 29), WaiverStatus.ACTIVE),
        (date(2026, 6, 30), WaiverStatus.ACTIVE),  # the expiry day itself is still covered
        (date(2026, 7, 1), WaiverStatus.EXPIRED),
    ],
)
def test_status_by_injected_date(waivers, today, status) -> None:
    assert waivers[1].status(today) is status
    assert status.value in ("active", "expired")


def test_waivers_accumulate_parent_first(write) -> None:
    write("parent.yaml", TEXT)
    child = write("child.yaml", """
        name: child
        extends: parent.yaml
        waivers:
          - {rule: project.visibility, target: x, reason: r, owner: o, expires: 2027-01-01}
        """)  # fmt: skip
    from posture.baseline import load_baseline

    assert [w.target for w in load_baseline(child).waivers] == ["acme-oss/*", "acme/web", "x"]


def test_quoted_iso_date_is_accepted() -> None:
    text = TEXT.replace("expires: 2027-03-31", 'expires: "2027-03-31"')
    assert load_baseline_text(text).waivers[0].expires == date(2027, 3, 31)
