"""The html report: one self-contained page, GitLab values escaped, the filter data intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from posture import findings as F
from posture.report import Format, render
from tests.reporting import make_report

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(1)</script>",
    "'><svg onload=alert(1)>",
    "[x](javascript:alert(1))",
    "<!-- {{ 7*7 }} -->",
    "\u2028\u2029&amp;&lt;",
]
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def finding(
    status: F.Status = F.Status.FAIL,
    *,
    rule: str = "branches.force_push",
    severity: str = "high",
    path: str = "acme/app",
    url: str | None = None,
    item: str | None = "main",
    message: str = "force push is allowed on main",
    waiver: F.WaiverInfo | None = None,
) -> F.Finding:
    return F.Finding(
        rule_id=rule,
        title="Force push is forbidden",
        family=rule.split(".", maxsplit=1)[0],
        severity=severity,
        status=status,
        target_kind="project",
        target_id=1,
        target_path=path,
        target_url=url if url is not None else f"https://gitlab.example/{path}",
        item=item,
        message=message,
        expected=False,
        actual=True,
        waiver=waiver,
        fingerprint=F.Finding.make_fingerprint(rule, "project", 1, path, item),
    )


def report(*items: F.Finding, gitlab: str = "https://gitlab.example") -> F.AuditReport:
    moment = datetime(2026, 11, 1, 3, 4, tzinfo=UTC)
    return make_report(
        items,
        name="acme-hardening",
        digest="sha256:" + "ab" * 32,
        sources=[],
        gitlab_url=gitlab,
        username="auditor",
        moment=moment,
    )


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text.append(data)

    def island(self) -> dict:
        [data] = [t for a, t in self.scripts if a.get("type") == "application/json"]
        return json.loads(data)


def test_page_is_self_contained_with_a_strict_csp() -> None:
    page = Page(render(report(finding(), finding(F.Status.PASS)), Format.HTML))
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert [(a["http-equiv"], a["content"]) for a in metas] == [("Content-Security-Policy", CSP)]
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "object", "embed", "img", "base"), tag
        assert "src" not in attrs, (tag, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        if "href" in attrs:
            assert tag == "a"
            assert urlsplit(attrs["href"] or "").netloc == "gitlab.example", attrs
    assert len(page.scripts) == 2
    assert "posture-data" in {a.get("id") for a, _ in page.scripts}


def test_header_summary_and_finding_details() -> None:
    waiver = F.WaiverInfo(
        reason="community workflow",
        owner="oss@acme.example",
        expires="2027-03-31",
        status="active",
        source="b.yaml",
    )
    r = report(
        finding(),
        finding(F.Status.WAIVED, rule="pipelines.public_jobs", severity="medium", waiver=waiver),
        finding(F.Status.PASS, rule="approvals.min_required"),
    )
    html = render(r, Format.HTML)
    page = Page(html)
    text = " ".join(" ".join(page.text).split())
    assert "acme-hardening sha256:" + "ab" * 32 in text
    assert "2026-11-01 03:04 UTC by auditor" in text
    assert "Waived until 2027-03-31 · owner oss@acme.example · reason: community workflow" in text
    # remediation comes from the rule catalog
    from posture.rules import REGISTRY

    assert " ".join(REGISTRY["branches.force_push"].remediation.split()) in text
    ids = [a["id"] for t, a in page.tags if t == "article"]
    statuses = [a["data-status"] for t, a in page.tags if t == "article"]
    assert statuses == ["fail", "waived", "pass"]  # worst first
    assert len(set(ids)) == 3
    # each control has a label
    labels = {a["for"] for t, a in page.tags if t == "label"}
    controls = {a["id"] for t, a in page.tags if t in ("select", "input")}
    assert controls == labels == {"f-status", "f-severity", "f-family", "f-group", "f-q"}


def test_island_round_trips_and_matches_the_articles() -> None:
    r = report(
        finding(path="acme/a"),
        finding(F.Status.UNKNOWN, path="other/b", rule="webhooks.plain_http"),
    )
    page = Page(render(r, Format.HTML))
    data = page.island()
    assert data["default_statuses"] == ["fail", "unknown", "waived"]
    articles = {a["id"]: a for t, a in page.tags if t == "article"}
    assert [f["id"] for f in data["findings"]] == list(articles)
    for f in data["findings"]:
        attrs = articles[f["id"]]
        assert (f["status"], f["severity"], f["family"], f["group"]) == (
            attrs["data-status"],
            attrs["data-severity"],
            attrs["data-family"],
            attrs["data-group"],
        )
    assert {f["group"] for f in data["findings"]} == {"acme", "other"}
    groups = [a["value"] for t, a in page.tags if t == "option"]
    assert "acme" in groups
    assert "other" in groups


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_escaped_everywhere(value: str) -> None:
    r = report(
        finding(path=value + "/p", item=value, message=value), gitlab="https://gitlab.example"
    )
    html = render(r, Format.HTML)
    page = Page(html)
    # no markup came from the data: the only tags are the template's own
    assert [t for t, _ in page.tags if t in ("img", "svg", "iframe")] == []
    assert len(page.scripts) == 2
    assert html.count("<script") == 2
    # the values survive as text, and the JSON island still parses with the hostile group
    assert value in "".join(page.text)
    assert page.island()["findings"][0]["group"] == value.split("/", 1)[0]
    island_raw = html[html.index('id="posture-data">') :]
    island_raw = island_raw[: island_raw.index("</script>")]
    for raw in ("<", ">", "&"):
        assert raw not in island_raw.removeprefix('id="posture-data">')


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "vbscript:x"])
def test_only_http_links(url: str) -> None:
    page = Page(render(report(finding(url=url)), Format.HTML))
    hrefs = [a["href"] for t, a in page.tags if "href" in a]
    assert hrefs == ["https://gitlab.example"]  # the header link only; the target is text


def test_output_is_deterministic_and_the_template_uses_no_safe_filter() -> None:
    r = report(finding(), finding(F.Status.PASS))
    assert render(r, Format.HTML) == render(r, Format.HTML)
    template = (ROOT / "posture" / "report" / "templates" / "report.html.j2").read_text()
    assert "|safe" not in template.replace(" ", "")
    assert "autoescape false" not in template
