"""Several reports from one run, and `posture report` reproducing them from findings JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from posture.cli import main
from posture.report import Format

pytestmark = pytest.mark.integration

GOLDEN_SNAPSHOT = Path(__file__).resolve().parents[1] / "golden" / "demo.snapshot.json"
ACME = Path(__file__).resolve().parents[2] / "examples" / "acme-baseline.yaml"


def test_report_round_trip_equals_direct_output_for_every_format(tmp_path, capsys) -> None:
    direct = [f"--report={fmt.value}={tmp_path / f'direct.{fmt.value}'}" for fmt in Format]
    argv = ["check", str(GOLDEN_SNAPSHOT), "--baseline", str(ACME), "--fail-on", "none"]
    code = main([*argv, "--format", "json", "-o", str(tmp_path / "findings.json"), *direct])
    assert code == 0
    for fmt in Format:
        out = tmp_path / f"again.{fmt.value}"
        code = main(
            ["report", str(tmp_path / "findings.json"), "--format", fmt.value, "-o", str(out),
             "--fail-on", "none", "-q"]
        )  # fmt: skip
        assert code == 0
        assert out.read_bytes() == (tmp_path / f"direct.{fmt.value}").read_bytes(), fmt
    assert "written:" in capsys.readouterr().err


def test_report_keeps_the_exit_code_contract(tmp_path, capsys) -> None:
    findings = tmp_path / "f.json"
    main(["check", str(GOLDEN_SNAPSHOT), "--format", "json", "-o", str(findings), "-q"])
    assert main(["report", str(findings), "-q"]) == 1  # high failures, default --fail-on high
    assert main(["report", str(findings), "-q", "--fail-on", "critical"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("junit", "--report wants FORMAT=PATH"),
        ("pdf=x.pdf", "unknown format 'pdf'"),
        ("json=/nonexistent/dir/x.json", "cannot write"),
    ],
)
def test_bad_report_spec_is_a_one_line_error_before_work(spec, message, capsys) -> None:
    code = main(["check", str(GOLDEN_SNAPSHOT), "--report", spec])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert message in err[0]


def test_report_on_a_file_that_is_not_findings(tmp_path, capsys) -> None:
    assert main(["report", str(GOLDEN_SNAPSHOT)]) == 2
    assert "not a posture findings file" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.json")]) == 2
    assert "cannot read findings file" in capsys.readouterr().err
