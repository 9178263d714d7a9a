"""Which settings apply to a target: overrides, precedence, inherit, shorthand, digest."""

from __future__ import annotations

import json

import pytest

from posture.baseline import Baseline, load_baseline, load_baseline_text
from posture.rules import REGISTRY
from posture.rules.base import Params, Rule, Severity, Target


def allowed(baseline: Baseline, path: str, **criteria) -> list[str] | None:
    """The allowed visibilities project.visibility checks for a project, or None if off."""
    setting = baseline.settings_for(Target.PROJECT, path, **criteria).get("project.visibility")
    return None if setting is None else list(setting.params.allowed)


BASE = """
name: precedence
settings:
  project.visibility: {allowed: [private]}
overrides:
"""


def test_specific_beats_general_regardless_of_file_order() -> None:
    text = (
        BASE
        + """
  - match: {path: "acme/web/storefront"}
    settings: {project.visibility: {allowed: [public]}}
  - match: {path: "acme/**"}
    settings: {project.visibility: {allowed: [internal]}}
  - match: {path: "acme/*/storefront"}
    settings: {project.visibility: {allowed: [private, public]}}
"""
    )
    baseline = load_baseline_text(text)
    assert allowed(baseline, "acme/web/storefront") == ["public"]  # 3 literal segments
    assert allowed(baseline, "acme/api/storefront") == ["private", "public"]  # 2 beat 1
    assert allowed(baseline, "acme/web/other") == ["internal"]
    assert allowed(baseline, "other/app") == ["private"]  # no override: the base


def test_ties_go_to_the_later_override() -> None:
    text = (
        BASE
        + """
  - match: {path: "acme/*"}
    settings: {project.visibility: {allowed: [internal]}}
  - match: {path: "acme/**"}
    settings: {project.visibility: {allowed: [public]}}
"""
    )
    assert allowed(load_baseline_text(text), "acme/app") == ["public"]
    swapped = (
        BASE
        + """
  - match: {path: "acme/**"}
    settings: {project.visibility: {allowed: [public]}}
  - match: {path: "acme/*"}
    settings: {project.visibility: {allowed: [internal]}}
"""
    )
    assert allowed(load_baseline_text(swapped), "acme/app") == ["internal"]


def test_more_criteria_beat_fewer_at_equal_path_specificity() -> None:
    text = (
        BASE
        + """
  - match: {path: "acme/**", visibility: [public]}
    settings: {project.visibility: {allowed: [public]}}
  - match: {path: "acme/**"}
    settings: {project.visibility: {allowed: [internal]}}
"""
    )
    baseline = load_baseline_text(text)
    assert allowed(baseline, "acme/app", visibility="public") == ["public"]
    assert allowed(baseline, "acme/app", visibility="private") == ["internal"]


def test_the_longest_matching_glob_of_a_list_decides_specificity() -> None:
    text = (
        BASE
        + """
  - match: {path: ["nomatch/a/b/c", "acme/*"]}
    settings: {project.visibility: {allowed: [internal]}}
  - match: {path: "acme/web"}
    settings: {project.visibility: {allowed: [public]}}
"""
    )
    # the 4-segment glob does not match, so the list counts as 1 literal segment
    assert allowed(load_baseline_text(text), "acme/web") == ["public"]


def test_child_overrides_apply_after_parent_overrides_on_ties(write) -> None:
    write("parent.yaml", BASE + '  - match: {path: "acme/**"}\n'
          "    settings: {project.visibility: {allowed: [internal]}}\n")  # fmt: skip
    child = write("child.yaml", "name: child\nextends: parent.yaml\noverrides:\n"
                  '  - match: {path: "acme/**"}\n'
                  "    settings: {project.visibility: {allowed: [public]}}\n")  # fmt: skip
    assert allowed(load_baseline(child), "acme/app") == ["public"]


def test_globs_ignore_case_and_double_star_covers_the_group_itself() -> None:
    text = """
name: globs
settings:
  group.visibility: {allowed: [private]}
overrides:
  - match: {path: "Acme-OSS/**"}
    settings: {group.visibility: {allowed: [public]}}
"""
    baseline = load_baseline_text(text)
    for path in ("acme-oss", "ACME-OSS/sub"):
        setting = baseline.settings_for(Target.GROUP, path)["group.visibility"]
        assert setting.params.allowed == ["public"]
    assert baseline.settings_for("group", "acme-ossx")["group.visibility"].params.allowed == [
        "private"
    ]


def test_single_star_is_one_segment() -> None:
    text = BASE + '  - match: {path: "acme/*"}\n    settings: {project.visibility: false}\n'
    baseline = load_baseline_text(text)
    assert allowed(baseline, "acme/app") is None
    assert allowed(baseline, "acme/web/app") == ["private"]


@pytest.mark.parametrize(
    ("match", "criteria", "applies"),
    [
        ("{topics: [pci, sox]}", {"topics": ["payments", "PCI"]}, True),
        ("{topics: [pci]}", {"topics": ["payments"]}, False),
        ("{topics: [pci]}", {}, False),
        ("{visibility: [public, internal]}", {"visibility": "internal"}, True),
        ("{visibility: [public]}", {"visibility": "private"}, False),
        ("{archived: true}", {"archived": True}, True),
        ("{archived: true}", {"archived": False}, False),
        ("{archived: false}", {"archived": None}, False),  # a target that cannot say
        ("{path: 'acme/**', topics: [pci]}", {"topics": ["pci"]}, True),
        ("{path: 'other/**', topics: [pci]}", {"topics": ["pci"]}, False),  # all must hold
    ],
)
def test_criteria(match: str, criteria: dict, applies: bool) -> None:
    text = BASE + f"  - match: {match}\n    settings: {{project.visibility: false}}\n"
    result = allowed(load_baseline_text(text), "acme/app", **criteria)
    assert (result is None) is applies


def test_overrides_do_not_touch_instance_and_runner_targets(monkeypatch) -> None:
    text = """
name: kinds
settings:
  instance.default_visibility: true
overrides:
  - match: {path: "**"}
    inherit: false
    settings: {project.visibility: true}
"""
    baseline = load_baseline_text(text)
    assert list(baseline.settings_for(Target.INSTANCE)) == ["instance.default_visibility"]
    assert list(baseline.settings_for(Target.PROJECT, "a/b")) == ["project.visibility"]
    assert baseline.settings_for(Target.RUNNER) == {}


def test_only_rules_for_the_target_kind_are_returned() -> None:
    text = "name: k\nsettings:\n  project.visibility: true\n  group.visibility: true\n"
    baseline = load_baseline_text(text)
    assert list(baseline.settings_for("group", "acme")) == ["group.visibility"]
    assert list(baseline.settings_for("project", "acme/x")) == ["project.visibility"]


def test_inherit_false_starts_from_nothing_then_more_specific_overrides_apply() -> None:
    text = """
name: sandbox
settings:
  project.visibility: {allowed: [private]}
  group.visibility: true
overrides:
  - match: {path: "sandbox/**"}
    settings: {project.visibility: {allowed: [internal]}}
  - match: {path: "sandbox/*"}
    inherit: false
    settings: {group.visibility: {allowed: [public]}}
  - match: {path: "sandbox/keep"}
    settings: {project.visibility: true}
"""
    baseline = load_baseline_text(text)
    # base and the less specific override are discarded: only group.visibility is left
    assert list(baseline.settings_for("project", "sandbox/app")) == []
    assert baseline.settings_for("group", "sandbox/app")["group.visibility"].params.allowed == [
        "public"
    ]
    # a more specific override still applies on top; its params start from the defaults
    assert allowed(baseline, "sandbox/keep") == ["private", "internal"]
    # deeper paths do not match sandbox/*: the inherit:false override is not involved
    assert allowed(baseline, "sandbox/deep/app") == ["internal"]


def test_inherit_false_with_nothing_to_inherit_is_fine() -> None:
    text = """
name: fresh
overrides:
  - match: {path: "a/**"}
    inherit: false
    settings: {project.visibility: true}
"""
    assert allowed(load_baseline_text(text), "a/b") == ["private", "internal"]


def test_bool_shorthand_switches_without_losing_params(write) -> None:
    write("parent.yaml", "name: parent\nsettings:\n  project.visibility: {allowed: [public]}\n")
    write("middle.yaml", "name: middle\nextends: parent.yaml\nsettings:\n"
          "  project.visibility: false\n")  # fmt: skip
    child = write("child.yaml", "name: child\nextends: middle.yaml\nsettings:\n"
                  "  project.visibility: true\n")  # fmt: skip
    assert allowed(load_baseline(child), "a/b") == ["public"]
    middle = load_baseline(child.parent / "middle.yaml")
    assert allowed(middle, "a/b") is None
    assert middle.enabled_rules() == []


def test_listing_a_rule_switches_it_on_unless_it_says_enabled_false(write) -> None:
    write("parent.yaml", "name: parent\nsettings:\n  project.visibility: false\n")
    on = write("on.yaml", "name: on\nextends: parent.yaml\nsettings:\n"
               "  project.visibility: {allowed: [public]}\n")  # fmt: skip
    off = write("off.yaml", "name: off\nextends: parent.yaml\nsettings:\n"
                "  project.visibility: {allowed: [public], enabled: false}\n")  # fmt: skip
    assert allowed(load_baseline(on), "a/b") == ["public"]
    assert allowed(load_baseline(off), "a/b") is None


def test_rules_never_mentioned_are_off() -> None:
    baseline = load_baseline_text("name: one\nsettings:\n  group.visibility: true\n")
    assert baseline.enabled_rules() == ["group.visibility"]
    assert baseline.settings_for("project", "a/b") == {}


def test_enabled_rules_include_rules_only_enabled_in_an_override() -> None:
    text = BASE + '  - match: {path: "a/**"}\n    settings: {group.visibility: true}\n'
    assert load_baseline_text(text).enabled_rules() == ["group.visibility", "project.visibility"]


def test_severity_override_and_default() -> None:
    text = """
name: sev
settings:
  project.visibility: {severity: critical}
  group.visibility: true
overrides:
  - match: {path: "low/**"}
    settings: {project.visibility: {severity: info}}
"""
    baseline = load_baseline_text(text)
    assert baseline.settings_for("project", "a/b")["project.visibility"].severity is (
        Severity.CRITICAL
    )
    assert baseline.settings_for("group", "a")["group.visibility"].severity is Severity.MEDIUM
    low = baseline.settings_for("project", "low/app")["project.visibility"]
    assert low.severity is Severity.INFO
    assert low.params.allowed == ["private", "internal"]  # params untouched by severity


def test_params_are_instances_of_the_rules_model_and_sources_point_at_lines() -> None:
    text = (
        "name: p\nsettings:\n  group.visibility: true\n  project.visibility:\n"
        "    allowed: [public]\n"
    )
    setting = load_baseline_text(text, name="inline.yaml").settings_for("project", "a/b")[
        "project.visibility"
    ]
    assert isinstance(setting.params, REGISTRY["project.visibility"].params)
    assert setting.enabled is True
    assert setting.source == "inline.yaml:4"


def test_params_merge_field_by_field_through_overrides(monkeypatch) -> None:
    class TwoFields(Params):
        min: int = 2
        scope: str = "all"

    rule = Rule(
        id="test.two_fields", title="t", severity=Severity.LOW, targets=(Target.PROJECT,),
        rationale="r", remediation="r", references=(), soc2=(), check=lambda *_: iter(()),
        params=TwoFields,
    )  # fmt: skip
    monkeypatch.setitem(REGISTRY, rule.id, rule)
    text = """
name: merge
settings:
  test.two_fields: {min: 3}
overrides:
  - match: {path: "a/**"}
    settings: {test.two_fields: {scope: default}}
  - match: {path: "a/b"}
    settings: {test.two_fields: {min: 5}}
"""
    baseline = load_baseline_text(text)
    params = baseline.settings_for("project", "a/b")["test.two_fields"].params
    assert (params.min, params.scope) == (5, "default")
    params = baseline.settings_for("project", "a/c")["test.two_fields"].params
    assert (params.min, params.scope) == (3, "default")
    params = baseline.settings_for("project", "z/c")["test.two_fields"].params
    assert (params.min, params.scope) == (3, "all")


def test_strict_types_no_coercion(monkeypatch) -> None:
    class Count(Params):
        min: int = 2

    rule = Rule(
        id="test.count", title="t", severity=Severity.LOW, targets=(Target.PROJECT,),
        rationale="r", remediation="r", references=(), soc2=(), check=lambda *_: iter(()),
        params=Count,
    )  # fmt: skip
    monkeypatch.setitem(REGISTRY, rule.id, rule)
    from posture.baseline import BaselineError

    for value in ('"2"', "2.5", "true"):
        with pytest.raises(BaselineError, match="input should be a valid integer"):
            load_baseline_text(f"name: s\nsettings:\n  test.count: {{min: {value}}}\n")


# --------------------------------------------------------------------------------------
# digest, resolved(), to_yaml()
# --------------------------------------------------------------------------------------

ORIGINAL = """\
name: digest
description: same content
settings:
  project.visibility: {allowed: [private], severity: high}
  group.visibility: true
overrides:
  - match: {path: "a/**", topics: [x]}
    settings: {project.visibility: {allowed: [public]}}
waivers:
  - rule: project.visibility
    target: a/b
    reason: because
    owner: me@example.com
    expires: 2027-01-01
"""

REORDERED = """
# comments and order do not matter
description: same content
waivers:
  - expires: 2027-01-01
    owner: me@example.com   # who
    reason: because
    target: a/b
    rule: project.visibility
settings:
  group.visibility: {}
  project.visibility:
    severity: high
    allowed: [private]

overrides:
  - settings: {project.visibility: {allowed: [public]}}
    match: {topics: [x], path: ["a/**"]}
name: digest
"""


def test_digest_is_stable_under_reordering_and_comments() -> None:
    first = load_baseline_text(ORIGINAL)
    second = load_baseline_text(REORDERED, name="elsewhere.yaml")
    assert first.digest == second.digest
    assert first.digest.startswith("sha256:")
    assert len(first.digest) == 7 + 64


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("allowed: [private]", "allowed: [internal]"),
        ("severity: high", "severity: low"),
        ("expires: 2027-01-01", "expires: 2027-01-02"),
        ("name: digest", "name: digest2"),
        ("topics: [x]", "topics: [y]"),
    ],
)
def test_digest_changes_with_content(old: str, new: str) -> None:
    assert (
        load_baseline_text(ORIGINAL).digest != load_baseline_text(ORIGINAL.replace(old, new)).digest
    )


def test_resolved_is_json_ready_sorted_and_carries_sources() -> None:
    baseline = load_baseline_text(ORIGINAL, name="o.yaml")
    resolved = baseline.resolved()
    assert json.loads(json.dumps(resolved)) == resolved
    assert list(resolved) == sorted(resolved)
    assert resolved["name"] == "digest"
    assert resolved["digest"] == baseline.digest
    assert resolved["sources"] == ["o.yaml"]
    assert resolved["settings"]["project.visibility"] == {
        "enabled": True,
        "params": {"allowed": ["private"]},
        "severity": "high",
        "source": "o.yaml:4",
    }
    assert resolved["settings"]["group.visibility"]["severity"] == "medium"
    override = resolved["overrides"][0]
    assert override["match"] == {"path": ["a/**"], "topics": ["x"]}
    assert override["inherit"] is True
    assert override["settings"]["project.visibility"]["params"] == {"allowed": ["public"]}
    assert resolved["waivers"][0]["expires"] == "2027-01-01"
    assert resolved["waivers"][0]["source"] == "o.yaml:10"


def test_to_yaml_loads_back_to_the_same_digest(write) -> None:
    parent = write("parent.yaml", ORIGINAL)
    child = write("child.yaml", """
        name: child
        extends: parent.yaml
        settings:
          project.visibility: {allowed: [internal]}
          group.visibility: false
        overrides:
          - match: {visibility: [public], archived: false}
            inherit: false
            settings: {group.visibility: {severity: low}}
        """)  # fmt: skip
    baseline = load_baseline(child)
    text = baseline.to_yaml()
    assert f"# sources, most general first:\n#   - {parent}\n#   - {child}" in text
    assert f"  # {child}:5" in text  # where each part came from
    again = load_baseline_text(text)
    assert again.digest == baseline.digest
    assert again.resolved()["settings"].keys() == baseline.resolved()["settings"].keys()
