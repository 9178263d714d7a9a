"""Loading: extends chains, and every validation error with its file, line and suggestion."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from posture.baseline import BaselineError, load_baseline, load_baseline_text
from posture.errors import ConfigError


def error_of(path: Path | str) -> str:
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------
# extends
# --------------------------------------------------------------------------------------


def test_three_level_chain_by_path_merges_root_first(write, tmp_path) -> None:
    write(
        "base/root.yaml",
        """
        name: root
        settings:
          project.visibility: {allowed: [private]}
          group.visibility: true
          instance.default_visibility: {default_project_visibility: [private, internal]}
        """,
    )
    write(
        "base/middle.yaml",
        """
        name: middle
        extends: root.yaml
        settings:
          instance.default_visibility: {default_group_visibility: [internal], severity: low}
        """,
    )
    leaf = write(
        "team/leaf.yaml",
        """
        name: leaf
        extends: ../base/middle.yaml
        settings:
          group.visibility: false
        """,
    )
    baseline = load_baseline(leaf)
    assert baseline.name == "leaf"
    assert baseline.sources == [
        str(tmp_path / "base" / "root.yaml"),
        str(tmp_path / "base" / "middle.yaml"),
        str(leaf),
    ]
    assert baseline.enabled_rules() == ["instance.default_visibility", "project.visibility"]
    setting = baseline.settings_for("instance")["instance.default_visibility"]
    # params merged field by field through the chain, severity from the middle file
    assert setting.params.default_project_visibility == ["private", "internal"]
    assert setting.params.default_group_visibility == ["internal"]
    assert setting.severity == "low"
    assert setting.source == f"{tmp_path / 'base' / 'middle.yaml'}:4"


@pytest.mark.usefixtures("full_catalog")
def test_three_level_chain_ending_in_a_shipped_baseline_by_name(write) -> None:
    parent = write("parent.yaml", "name: parent\nextends: gitlab-hardening\nsettings:\n"
                   "  project.visibility: {severity: critical}\n")  # fmt: skip
    child = write("child.yaml", "name: child\nextends: parent.yaml\nsettings:\n"
                  "  project.visibility: {allowed: [private]}\n")  # fmt: skip
    baseline = load_baseline(child)
    assert baseline.sources == ["gitlab-hardening (shipped)", str(parent), str(child)]
    setting = baseline.settings_for("project", "acme/app")["project.visibility"]
    assert (setting.severity, setting.params.allowed) == ("critical", ["private"])
    assert setting.source == f"{child}:4"
    assert "branches.force_push" in baseline.enabled_rules()  # from the shipped root


@pytest.mark.usefixtures("full_catalog")
def test_shipped_parent_is_named_the_same_on_every_machine(write) -> None:
    child = write("child.yaml", "name: child\nextends: minimal\n")
    baseline = load_baseline(child)
    assert baseline.sources == ["minimal (shipped)", str(child)]
    setting = baseline.settings_for("project", "a/b")["project.visibility"]
    assert setting.source.startswith("baselines/minimal.yaml:")


def test_cycle_is_an_error_naming_the_chain(write, tmp_path) -> None:
    a = write("a.yaml", "name: a\nextends: b.yaml\n")
    write("b.yaml", "name: b\nextends: c.yaml\n")
    write("c.yaml", "# c\nname: c\nextends: a.yaml\n")
    message = error_of(a)
    c = tmp_path / "c.yaml"
    assert message == (
        f"{c}:3: extends cycle: {a} -> {tmp_path / 'b.yaml'} -> {c} -> {tmp_path / 'a.yaml'}"
    )


def test_self_extension_is_a_cycle(write) -> None:
    a = write("a.yaml", "name: a\nextends: ./a.yaml\n")
    assert error_of(a) == f"{a}:2: extends cycle: {a} -> {a}"


def test_missing_parent_points_at_the_extends_line(write) -> None:
    child = write("child.yaml", "name: child\n\nextends: gitlab-hardenig\n")
    message = error_of(child)
    assert message.startswith(f"{child}:3: extends 'gitlab-hardenig': no shipped baseline")
    assert message.endswith("(did you mean 'gitlab-hardening'?)")


def test_missing_top_level_file() -> None:
    message = error_of("no/such/baseline.yaml")
    assert message.startswith("no/such/baseline.yaml: no such baseline")
    assert "gitlab-hardening, minimal" in message
    assert error_of("minimall").endswith("(did you mean 'minimal'?)")


def test_baseline_error_is_a_config_error() -> None:
    assert issubclass(BaselineError, ConfigError)


# --------------------------------------------------------------------------------------
# validation: exact file:line and did-you-mean
# --------------------------------------------------------------------------------------

CASES = [
    pytest.param(
        "name: x\nsettings:\n  project.visiblity: true\n",
        "3: unknown rule id 'project.visiblity' (did you mean 'project.visibility'?)",
        id="unknown-rule-in-settings",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match: {path: a/**}\n    settings:\n"
        "      group.visibilty: true\n",
        "5: unknown rule id 'group.visibilty' (did you mean 'group.visibility'?)",
        id="unknown-rule-in-override",
    ),
    pytest.param(
        "name: x\nwaivers:\n  - rule: project.visibilty\n    target: a\n    reason: r\n"
        "    owner: o\n    expires: 2027-01-01\n",
        "3: unknown rule id 'project.visibilty' (did you mean 'project.visibility'?)",
        id="unknown-rule-in-waiver",
    ),
    pytest.param(
        "name: x\nsetting:\n  project.visibility: true\n",
        "2: unknown top-level key 'setting' (did you mean 'settings'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility:\n    alowed: [private]\n",
        "4: unknown parameter 'alowed' for rule 'project.visibility' (did you mean 'allowed'?)",
        id="unknown-parameter",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility:\n    enable: false\n",
        "4: unknown parameter 'enable' for rule 'project.visibility' (did you mean 'enabled'?)",
        id="enabled-typo",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility:\n    allowed: [private, secret]\n",
        "4: rule 'project.visibility' parameter allowed[1]: input should be 'private', "
        "'internal' or 'public' (got 'secret')",
        id="bad-parameter-value",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility: {allowed: private}\n",
        "3: rule 'project.visibility' parameter allowed: input should be a list (got 'private')",
        id="parameter-wrong-type",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility: 2\n",
        "3: setting for rule 'project.visibility' must be true, false or a mapping of "
        "parameters (got 2); write `true` to enable it with default parameters",
        id="setting-wrong-type",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility: {enabled: 'no'}\n",
        "3: rule 'project.visibility': enabled must be true or false (got 'no')",
        id="enabled-wrong-type",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility:\n    severity: hihg\n",
        "4: rule 'project.visibility': bad severity 'hihg' "
        "(one of info, low, medium, high, critical) (did you mean 'high'?)",
        id="bad-severity",
    ),
    pytest.param(
        "name: Acme Baseline\n",
        "1: name: must be lowercase letters, digits, '.', '_' or '-', starting with a letter "
        "or digit (got 'Acme Baseline')",
        id="bad-name",
    ),
    pytest.param(
        "description: no name\nsettings: {}\n",
        "1: the baseline is missing required key 'name'",
        id="missing-name",
    ),
    pytest.param(
        "name: x\nwaivers:\n  - rule: project.visibility\n    target: a/b\n    reason: r\n"
        "    expires: 2027-01-01\n",
        "3: waiver is missing required key 'owner'",
        id="waiver-missing-owner",
    ),
    pytest.param(
        "name: x\nwaivers:\n  - rule: project.visibility\n    target: a/b\n    reason: '  '\n"
        "    owner: o\n    expires: 2027-01-01\n",
        "5: waivers[0].reason: must not be empty (got '  ')",
        id="waiver-empty-reason",
    ),
    pytest.param(
        "name: x\nwaivers:\n  - rule: project.visibility\n    target: a/b\n    reason: r\n"
        "    owner: o\n    expires: 2027-02-30\n",
        "7: invalid date '2027-02-30' (expected YYYY-MM-DD)",
        id="impossible-date",
    ),
    pytest.param(
        "name: x\nwaivers:\n  - rule: project.visibility\n    target: a/b\n    reason: r\n"
        "    owner: o\n    expires: 'next year'\n",
        "7: waivers[0].expires: must be an ISO date like 2027-03-31 (got 'next year')",
        id="not-a-date",
    ),
    pytest.param(
        "name: x\nwaivers:\n  - rule: project.visibility\n    target: a/b\n    reason: r\n"
        "    owner: o\n    expires: 2027-01-01\n    expiry: 2027-01-01\n",
        "8: unknown key in waiver 'expiry' (did you mean 'expires'?)",
        id="unknown-waiver-key",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match: {paths: a/**}\n",
        "3: unknown match criterion 'paths' (did you mean 'path'?)",
        id="unknown-match-criterion",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match: {path: a/**}\n    inherits: false\n",
        "4: unknown key in override 'inherits' (did you mean 'inherit'?)",
        id="unknown-override-key",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match: {}\n    settings: {}\n",
        "3: an override's match needs at least one of: path, topics, visibility, archived",
        id="empty-match",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match:\n      visibility: [secret]\n",
        "4: overrides[0].match.visibility[0]: input should be 'private', 'internal' or "
        "'public' (got 'secret')",
        id="bad-visibility-criterion",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match:\n      archived: maybe\n",
        "4: overrides[0].match.archived: input should be a valid boolean (got 'maybe')",
        id="bad-archived-criterion",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match: {path: 'a//b'}\n",
        "3: path glob 'a//b' has an empty segment ('//')",
        id="bad-glob",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match:\n      path: [a/**, 7]\n",
        "4: overrides[0].match.path: wrong type (got ['a/**', 7])",
        id="glob-list-wrong-type",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match: {path: 'acme-oss/**'}\n  - match: {path: 'b'}\n"
        "  - match:\n      path: ['c', 'ACME-OSS/**']\n",
        "6: override path 'ACME-OSS/**' differs only in case from 'acme-oss/**' (line 3); "
        "GitLab paths are case-insensitive, so merge them",
        id="case-duplicate-globs",
    ),
    pytest.param(
        "name: x\noverrides:\n  - match: {path: a}\n    settings:\n"
        "      instance.default_visibility: true\n",
        "5: rule 'instance.default_visibility' judges instance targets; overrides apply to "
        "groups and projects only, so set it in the top-level settings",
        id="override-for-instance-rule",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility: true\n  group.visibility: true\n"
        "  project.visibility: false\n",
        "5: duplicate key 'project.visibility' (first at line 3)",
        id="duplicate-key",
    ),
    pytest.param(
        "name: x\nsettings:\n  project.visibility: {allowed: [private]\n",
        "4: YAML syntax error: expected ',' or '}', but got '<stream end>'",
        id="yaml-syntax",
    ),
    pytest.param(
        "name: x\nsettings: [project.visibility]\n",
        "2: settings: input should be a mapping",
        id="settings-not-a-mapping",
    ),
    pytest.param("- name: x\n", "1: a baseline is a mapping with at least a name", id="a-list"),
    pytest.param(
        "name: x\noverrides:\n  - settings: {}\n",
        "3: override is missing required key 'match'",
        id="override-without-match",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_validation_errors_point_at_the_line(write, text: str, expected: str) -> None:
    path = write("bad.yaml", text)
    message = error_of(path)
    assert message.startswith(f"{path}:{expected}"), message


def test_error_in_a_parent_names_the_parent_file(write, tmp_path) -> None:
    write("parent.yaml", "name: parent\nsettings:\n  project.visibilty: true\n")
    child = write("child.yaml", "name: child\nextends: parent.yaml\n")
    assert error_of(child).startswith(f"{tmp_path / 'parent.yaml'}:3: unknown rule id")


def test_case_duplicates_across_files_are_allowed(write) -> None:
    """The rule is per file: a child may narrow what its parent wrote in another case."""
    write("parent.yaml", "name: p\noverrides:\n  - match: {path: 'Acme/**'}\n")
    child = write("child.yaml", "name: c\nextends: parent.yaml\noverrides:\n"
                  "  - match: {path: 'acme/**'}\n")  # fmt: skip
    assert load_baseline(child).name == "c"


def test_empty_settings_blocks_are_allowed(write) -> None:
    path = write("empty.yaml", "name: empty\nsettings:\noverrides:\nwaivers:\n")
    baseline = load_baseline(path)
    assert baseline.enabled_rules() == []
    assert baseline.waivers == []


# --------------------------------------------------------------------------------------
# hostile input: an error, quickly, never a traceback or a hang
# --------------------------------------------------------------------------------------

BOMB = """
name: x
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""

HOSTILE = [
    pytest.param(BOMB, "2: YAML anchors and aliases are not supported", id="alias-bomb"),
    pytest.param(
        "name: x\ndescription: !!python/object/apply:os.system ['true']\n",
        "2: unsupported YAML tag '!!python/object/apply:os.system'",
        id="python-tag",
    ),
    pytest.param(
        "name: !!python/name:os.system\n", "1: unsupported YAML tag", id="python-name-tag"
    ),
    pytest.param("name: x\nsettings: !!set {a, b}\n", "2: unsupported YAML tag '!!set'", id="set"),
    pytest.param("name: !custom x\n", "1: unsupported YAML tag '!custom'", id="local-tag"),
    pytest.param(
        "name: x\n" + "a: " + "[" * 200 + "]" * 200 + "\n",
        "2: nesting deeper than",
        id="deep-nesting",
    ),
    pytest.param("name: x\n---\nname: y\n", "2: YAML syntax error", id="two-documents"),
    pytest.param("", ": the file is empty", id="empty"),
    pytest.param("name: x\nb: \x07\n", "2: character #x0007 is not allowed in YAML", id="control"),
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE)
def test_hostile_yaml_is_refused(write, text: str, expected: str) -> None:
    path = write("hostile.yaml", text)
    started = time.perf_counter()
    message = error_of(path)
    assert time.perf_counter() - started < 1
    if expected.startswith(":"):
        assert message.startswith(f"{path}{expected}"), message
    else:
        assert message.startswith(f"{path}:{expected}"), message


def test_huge_file_is_refused_before_parsing(tmp_path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n" + "# padding\n" * 110_000)
    started = time.perf_counter()
    assert error_of(path) == f"{path}: file is larger than 1,000,000 bytes"
    assert time.perf_counter() - started < 0.5


def test_binary_file_is_refused(tmp_path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"name: x\n\xff\xfe\x00")
    assert error_of(path) == f"{path}: not UTF-8 text (byte 8)"


def test_a_directory_is_not_a_baseline(tmp_path) -> None:
    assert "no such baseline" in error_of(tmp_path)


def test_text_loader_resolves_extends_from_the_given_directory(write, tmp_path) -> None:
    write("parent.yaml", "name: parent\nsettings:\n  group.visibility: true\n")
    baseline = load_baseline_text(
        "name: child\nextends: parent.yaml\n", name="stdin", directory=tmp_path
    )
    assert baseline.sources == [str(tmp_path / "parent.yaml"), "stdin"]
    assert baseline.enabled_rules() == ["group.visibility"]
