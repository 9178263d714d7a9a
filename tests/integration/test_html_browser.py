"""The html report in a real browser: the script runs, filters honour the URL, a screenshot.

Runs headless Chromium on the golden demo report (tests/golden/demo-acme.html) with every
background network feature off. Skipped where Chromium is not installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "demo-acme.html"
GOLDEN_JSON = ROOT / "tests" / "golden" / "demo-acme.json"
SCREENSHOT = ROOT / "docs" / "img" / "html-report.png"
CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    page = tmp_path_factory.mktemp("page") / "report.html"
    shutil.copyfile(GOLDEN, page)
    profile = tmp_path_factory.mktemp("profile")

    def run(*args: str, fragment: str = "") -> str:
        command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
        done = subprocess.run(
            [*command, page.as_uri() + fragment],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    return run


def body_attrs(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag is not None
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1)))


def visible_articles(dom: str) -> list[str]:
    return [a for a in re.findall(r"<article [^>]*>", dom) if " hidden" not in a]


def failing(severity: str | None = None) -> int:
    data = json.loads(GOLDEN_JSON.read_text())
    return sum(
        1
        for f in data["findings"]
        if f["status"] == "fail" and (severity is None or f["severity"] == severity)
    )


def test_script_runs_and_shows_the_default_view(browser) -> None:
    dom = browser("--dump-dom")
    attrs = body_attrs(dom)
    assert attrs.get("data-ready") == "1", attrs
    assert "data-error" not in attrs
    form = re.search(r'<form id="filters"[^>]*>', dom)
    assert form is not None
    assert "hidden" not in form.group(0)  # the script revealed the controls
    for control in ("f-status", "f-severity", "f-family", "f-group", "f-q"):
        assert f'id="{control}"' in dom
    shown = visible_articles(dom)
    assert {re.search(r'data-status="(\w+)"', a).group(1) for a in shown} <= {
        "fail",
        "unknown",
        "waived",
    }
    assert len(shown) > failing()  # the waived ones too


def test_filters_follow_the_url_fragment(browser) -> None:
    dom = browser("--dump-dom", fragment="#status=fail&severity=high")
    assert body_attrs(dom).get("data-ready") == "1"
    shown = visible_articles(dom)
    assert len(shown) == failing("high") > 0
    for article in shown:
        assert 'data-status="fail"' in article
        assert 'data-severity="high"' in article
    assert f"Showing {len(shown)} of" in dom


def test_search_narrows_to_matching_text(browser) -> None:
    dom = browser("--dump-dom", fragment="#status=&q=storefront%20hook")
    shown = visible_articles(dom)
    assert shown
    ids = {re.search(r'id="(f\d+)"', a).group(1) for a in shown}
    for ident in ids:
        block = dom[dom.index(f'id="{ident}"') :]
        block = block[: block.index("</article>")]
        assert "storefront" in block
        assert "hook" in block


def test_screenshot(browser, request, tmp_path) -> None:
    """Saves a screenshot; `pytest --update-golden` refreshes the one in docs/img."""
    target = SCREENSHOT if request.config.getoption("--update-golden") else tmp_path / "r.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    browser(f"--screenshot={target}", "--window-size=1280,2000", "--hide-scrollbars")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
