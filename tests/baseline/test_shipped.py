"""Shipped baselines, the example, the JSON Schema and the starter baseline."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from posture.baseline import (
    DEFAULT_BASELINE,
    WaiverStatus,
    load_baseline,
    load_baseline_text,
    shipped_baselines,
)
from posture.baseline.init import starter_baseline
from posture.baseline.schema import baseline_json_schema, render
from posture.rules import REGISTRY
from posture.rules.base import Target
from tests.baseline.catalog import CATALOG, missing_rules
from tests.rules import factories as f

ROOT = Path(__file__).resolve().parents[2]
CANONICAL = ROOT / "baselines"
PACKAGED = ROOT / "posture" / "baselines"
EXAMPLE = ROOT / "examples" / "acme-baseline.yaml"


def settings_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["settings"]


def test_shipped_baselines_are_found_by_name() -> None:
    shipped = shipped_baselines()
    assert sorted(shipped) == ["gitlab-hardening", "minimal"]
    assert DEFAULT_BASELINE == "gitlab-hardening"
    assert all(path.is_file() for path in shipped.values())


def test_packaged_copies_are_identical_to_the_canonical_files() -> None:
    canonical = {path.name: path.read_bytes() for path in CANONICAL.glob("*.yaml")}
    packaged = {path.name: path.read_bytes() for path in PACKAGED.glob("*.yaml")}
    assert sorted(canonical) == sorted(packaged), "copy baselines/*.yaml to posture/baselines/"
    for name, content in canonical.items():
        assert packaged[name] == content, f"posture/baselines/{name} differs from baselines/{name}"


def test_gitlab_hardening_enables_every_default_rule_in_the_registry() -> None:
    """Adding a rule means adding it to gitlab-hardening (with a comment saying why)."""
    settings = settings_of(CANONICAL / "gitlab-hardening.yaml")
    for rule in REGISTRY.values():
        if rule.default_enabled:
            assert rule.id in settings, f"add {rule.id} to baselines/gitlab-hardening.yaml"
            assert settings[rule.id] is not False
            assert not (isinstance(settings[rule.id], dict) and not settings[rule.id].get(
                "enabled", True))  # fmt: skip


def test_gitlab_hardening_lists_the_whole_catalog() -> None:
    settings = settings_of(CANONICAL / "gitlab-hardening.yaml")
    assert sorted(settings) == sorted(CATALOG)
    for rule_id, (_, _, default_enabled, _) in CATALOG.items():
        assert (settings[rule_id] is not False) is default_enabled, rule_id


@pytest.mark.parametrize("name", ["gitlab-hardening", "minimal"])
def test_every_shipped_setting_carries_a_comment_saying_why(name: str) -> None:
    lines = (CANONICAL / f"{name}.yaml").read_text().splitlines()
    start = lines.index("settings:")
    for number, line in enumerate(lines[start + 1 :], start=start + 1):
        if re.match(r"^  [a-z]+\.[a-z_]+:", line):
            assert lines[number - 1].lstrip().startswith("#"), f"{name}.yaml:{number + 1}"


@pytest.mark.parametrize("name", ["gitlab-hardening", "minimal"])
def test_shipped_baselines_load_with_the_real_catalog(name: str) -> None:
    missing = missing_rules()
    if missing:
        pytest.skip(f"rule {missing[0]} not implemented yet ({len(missing)} catalog rules missing)")
    baseline = load_baseline(name)
    assert baseline.sources == [f"{name} (shipped)"]


@pytest.mark.usefixtures("full_catalog")
def test_shipped_baselines_load_and_minimal_is_a_subset() -> None:
    hardening = load_baseline("gitlab-hardening")
    minimal = load_baseline("minimal")
    default_on = sorted(rule_id for rule_id, spec in CATALOG.items() if spec[2])
    assert hardening.enabled_rules() == default_on
    assert minimal.enabled_rules() == [
        "access.token_expiry",
        "branches.default_protected",
        "branches.force_push",
        "project.visibility",
        "variables.secret_like_unmasked",
        "webhooks.credentials_in_url",
        "webhooks.ssl_verification",
    ]
    assert set(minimal.enabled_rules()) <= set(hardening.enabled_rules())
    assert hardening.waivers == []
    assert minimal.waivers == []


@pytest.mark.usefixtures("full_catalog")
def test_a_baseline_loads_well_under_100_ms() -> None:
    load_baseline(EXAMPLE)  # warm imports and caches
    started = time.perf_counter()
    for _ in range(5):
        load_baseline(EXAMPLE)
    assert (time.perf_counter() - started) / 5 < 0.1


@pytest.mark.usefixtures("full_catalog")
def test_example_baseline_expresses_the_acme_decisions() -> None:
    baseline = load_baseline(EXAMPLE)
    assert baseline.name == "acme-hardening"
    assert baseline.sources == ["gitlab-hardening (shipped)", str(EXAMPLE)]

    def project(path: str, **criteria) -> dict:
        return baseline.settings_for(Target.PROJECT, path, **criteria)

    oss = project("acme-oss/cli-tool", topics=["oss"], visibility="public", archived=False)
    assert oss["project.visibility"].params.allowed == ["public"]
    group = baseline.settings_for(Target.GROUP, "acme-oss", visibility="public")
    assert group["group.visibility"].params.allowed == ["public"]
    sandbox = project("acme-sandbox/playground", visibility="internal", archived=False)
    assert "branches.force_push" not in sandbox  # inherit: false
    assert sandbox["access.token_expiry"].params.max_days == 90
    pci = project("acme/platform/payments/ledger", topics=["payments", "pci"])
    assert pci["approvals.min_required"].severity == "critical"
    assert "runners.instance_runners_enabled" in pci
    assert "runners.instance_runners_enabled" not in project("acme/web/storefront")
    archived = project("acme/legacy/billing-v1", archived=True)
    assert "branches.push_access" not in archived
    assert "access.token_expiry" in archived

    evaluated_on = date(2026, 11, 2)  # the demo snapshot's date
    statuses = [waiver.status(evaluated_on) for waiver in baseline.waivers]
    assert statuses == [WaiverStatus.ACTIVE, WaiverStatus.EXPIRED]
    assert all(waiver.owner and waiver.reason for waiver in baseline.waivers)


# --------------------------------------------------------------------------------------
# JSON Schema
# --------------------------------------------------------------------------------------


def test_committed_json_schema_is_fresh() -> None:
    committed = (ROOT / "docs" / "baseline.schema.json").read_text()
    assert committed == render(), (
        "docs/baseline.schema.json is stale: "
        "python -m posture.baseline.schema > docs/baseline.schema.json"
    )


def test_json_schema_offers_every_rule_with_its_params() -> None:
    schema = baseline_json_schema()
    rules = schema["$defs"]["settings"]["properties"]
    assert sorted(rules) == sorted(REGISTRY)
    as_object = rules["project.visibility"]["anyOf"][1]
    assert {"enabled", "severity", "allowed"} <= set(as_object["properties"])
    assert as_object["additionalProperties"] is False
    assert schema["$defs"]["severity"]["enum"] == ["info", "low", "medium", "high", "critical"]
    assert schema["$defs"]["waiver"]["required"] == ["rule", "target", "reason", "owner", "expires"]
    refs = re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema))
    assert refs
    assert all(ref in schema["$defs"] for ref in refs)


# --------------------------------------------------------------------------------------
# starter baseline
# --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("full_catalog")
def test_starter_baseline_without_a_snapshot_loads() -> None:
    text = starter_baseline()
    baseline = load_baseline_text(text)
    assert baseline.name == "my-hardening"
    assert baseline.sources[0] == "gitlab-hardening (shipped)"
    assert "#  - rule: pipelines.public_jobs" in text  # a commented example waiver
    assert baseline.waivers == []


@pytest.mark.usefixtures("full_catalog")
def test_starter_baseline_from_a_snapshot_allows_existing_public_scopes_for_review() -> None:
    snapshot = f.snapshot(
        groups=[
            f.group(id=1, full_path="Acme"),
            f.group(id=2, full_path="acme-oss", visibility="public"),
        ],
        projects=[
            f.project(id=1, path_with_namespace="acme-oss/cli", namespace_full_path="acme-oss",
                      visibility="public"),
            f.project(id=2, path_with_namespace="Acme/web/site", namespace_full_path="Acme/web",
                      visibility="public"),
            f.project(id=3, path_with_namespace="Acme/app", namespace_full_path="Acme"),
        ],
    )  # fmt: skip
    text = starter_baseline(snapshot)
    assert "# review: is this intended? acme-oss: the group is public; 1 public project(s)" in text
    assert "#    expires: 2027-01-30" in text  # 90 days after the snapshot
    baseline = load_baseline_text(text)
    assert baseline.name == "acme-hardening"

    def allowed(path: str) -> list[str]:
        setting = baseline.settings_for(Target.PROJECT, path)["project.visibility"]
        return list(setting.params.allowed)

    assert allowed("acme-oss/cli") == ["private", "internal", "public"]
    assert allowed("Acme/web/site") == ["private", "internal", "public"]
    assert allowed("Acme/app") == ["private", "internal"]
    group = baseline.settings_for(Target.GROUP, "acme-oss")["group.visibility"]
    assert group.params.allowed == ["private", "internal", "public"]


@pytest.mark.usefixtures("full_catalog")
def test_resolved_example_round_trips_through_yaml() -> None:
    baseline = load_baseline(EXAMPLE)
    again = load_baseline_text(baseline.to_yaml())
    assert again.digest == baseline.digest
    assert again.resolved()["settings"] == {
        rule_id: {**entry, "source": again.resolved()["settings"][rule_id]["source"]}
        for rule_id, entry in baseline.resolved()["settings"].items()
    }
