"""The command line against the sandbox: one-line errors with documented exit codes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from posture.cli import main
from posture.sandbox import Fault, Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox(demo) -> Iterator[Sandbox]:
    with Sandbox(demo, tier="premium") as sb:
        yield sb


def run(capsys, monkeypatch, argv: list[str], token: str | None) -> tuple[int, str, str]:
    monkeypatch.delenv("GITLAB_URL", raising=False)
    if token is None:
        monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GITLAB_TOKEN", token)
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert "Traceback" not in err
    assert lines[0].startswith("posture: error: ")
    return lines[0]


def snapshot_args(sandbox: Sandbox, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "snapshot", "--url", sandbox.url, "--group", "acme",
        "-o", str(tmp_path / "s.json"), "--quiet", *extra,
    ]  # fmt: skip


def test_snapshot_writes_file_and_summary(sandbox, tmp_path, capsys, monkeypatch) -> None:
    argv = snapshot_args(sandbox, tmp_path)
    argv.remove("--quiet")
    code, out, _err = run(capsys, monkeypatch, argv, sandbox.token_for("admin"))
    assert code == 0
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["meta"]["complete"] is True
    assert "Complete: yes" in out
    assert f"Written: {tmp_path / 's.json'}" in out
    assert "projects" in out


def test_snapshot_to_stdout(sandbox, capsys, monkeypatch) -> None:
    argv = ["snapshot", "--url", sandbox.url, "--group", "acme", "-o", "-"]
    code, out, err = run(capsys, monkeypatch, argv, sandbox.token_for("admin"))
    assert code == 0
    assert json.loads(out)["meta"]["tool"] == "posture"
    assert "Complete: yes" in err  # the summary moves to stderr


def test_no_token(sandbox, tmp_path, capsys, monkeypatch) -> None:
    code, _out, err = run(capsys, monkeypatch, snapshot_args(sandbox, tmp_path), None)
    assert code == 2
    assert "no GitLab token: set GITLAB_TOKEN or pass --token-file" in one_error_line(err)


def test_invalid_token(sandbox, tmp_path, capsys, monkeypatch) -> None:
    token = "glpat-EXAMPLEinvalid00000000"
    code, out, err = run(capsys, monkeypatch, snapshot_args(sandbox, tmp_path), token)
    assert code == 2
    line = one_error_line(err)
    assert "401" in line
    assert "invalid" in line
    assert token not in err + out


def test_expired_token(sandbox, tmp_path, capsys, monkeypatch) -> None:
    token = sandbox.token_for("expired")
    code, out, err = run(capsys, monkeypatch, snapshot_args(sandbox, tmp_path), token)
    assert code == 2
    assert "expired" in one_error_line(err)
    assert token not in err + out


def test_token_without_read_api(sandbox, tmp_path, capsys, monkeypatch) -> None:
    token = sandbox.token_for("read_user")
    code, _out, err = run(capsys, monkeypatch, snapshot_args(sandbox, tmp_path), token)
    assert code == 2
    assert "lacks the read_api scope" in one_error_line(err)


def test_group_not_found_suggests_similar_paths(sandbox, tmp_path, capsys, monkeypatch) -> None:
    argv = snapshot_args(sandbox, tmp_path)
    argv[argv.index("acme")] = "acme/platfrom"
    code, _out, err = run(capsys, monkeypatch, argv, sandbox.token_for("owner"))
    assert code == 2
    line = one_error_line(err)
    assert "group 'acme/platfrom' not found" in line
    assert "did you mean: acme/platform" in line
    assert not (tmp_path / "s.json").exists()


def test_host_unreachable(tmp_path, capsys, monkeypatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [
        "snapshot", "--url", f"http://127.0.0.1:{port}", "--group", "acme",
        "-o", str(tmp_path / "s.json"), "--max-attempts", "1",
    ]  # fmt: skip
    code, _out, err = run(capsys, monkeypatch, argv, "glpat-EXAMPLEunreachable0000")
    assert code == 2
    line = one_error_line(err)
    assert f"127.0.0.1:{port}" in line
    assert "connect" in line


def test_tls_failure(sandbox, tmp_path, capsys, monkeypatch) -> None:
    https_url = sandbox.url.replace("http://", "https://")  # the sandbox speaks plain HTTP
    argv = [
        "snapshot", "--url", https_url, "--group", "acme",
        "-o", str(tmp_path / "s.json"), "--max-attempts", "1",
    ]  # fmt: skip
    code, _out, err = run(capsys, monkeypatch, argv, sandbox.token_for("admin"))
    assert code == 2
    assert "TLS" in one_error_line(err)


def test_plain_http_to_a_remote_host_is_refused(tmp_path, capsys, monkeypatch) -> None:
    argv = ["snapshot", "--url", "http://gitlab.example.com", "--group", "acme"]
    code, _out, err = run(capsys, monkeypatch, argv, "glpat-EXAMPLEplainhttp000000")
    assert code == 2
    assert "http://" in one_error_line(err)
    assert "gitlab.example.com" in err


def test_output_not_writable(sandbox, tmp_path, capsys, monkeypatch) -> None:
    argv = snapshot_args(sandbox, tmp_path)
    argv[argv.index("-o") + 1] = str(tmp_path / "missing" / "s.json")
    code, _out, err = run(capsys, monkeypatch, argv, sandbox.token_for("admin"))
    assert code == 2
    assert "cannot write" in one_error_line(err)
    assert sandbox.request_log == []  # refused before crawling


def test_output_is_a_directory(sandbox, tmp_path, capsys, monkeypatch) -> None:
    argv = snapshot_args(sandbox, tmp_path)
    argv[argv.index("-o") + 1] = str(tmp_path)
    code, _out, err = run(capsys, monkeypatch, argv, sandbox.token_for("admin"))
    assert code == 2
    assert "is a directory" in one_error_line(err)


@pytest.mark.parametrize("flag", ["--token", "--private-token"])
def test_token_on_the_command_line_is_refused_and_not_echoed(
    flag, sandbox, tmp_path, capsys, monkeypatch
) -> None:
    secret = "glpat-EXAMPLEargv0000000000"
    argv = [*snapshot_args(sandbox, tmp_path), flag, secret]
    code, out, err = run(capsys, monkeypatch, argv, None)
    assert code == 2
    assert "does not take tokens on the command line" in one_error_line(err)
    assert secret not in out + err


def test_unknown_arguments_are_not_echoed(capsys, monkeypatch) -> None:
    secret = "glpat-EXAMPLEpasted000000000"
    code, out, err = run(capsys, monkeypatch, ["snapshot", "--group", "a", secret], None)
    assert code == 2
    assert secret not in out + err
    assert "unrecognized arguments" in err


def test_failed_sections_still_write_the_snapshot(demo, tmp_path, capsys, monkeypatch) -> None:
    faults = [Fault("GET /projects/:id/hooks", status=500)]
    with Sandbox(demo, tier="premium", faults=faults) as sb:
        argv = snapshot_args(sb, tmp_path, "--max-attempts", "2")
        code, _out, err = run(capsys, monkeypatch, argv, sb.token_for("admin"))
        assert code == 0
        data = json.loads((tmp_path / "s.json").read_text())
        assert data["meta"]["complete"] is False
        failed = {e["section"] for e in data["meta"]["errors"]}
        assert failed == {"webhooks"}
        assert all(e["http_status"] == 500 for e in data["meta"]["errors"])

        (tmp_path / "s.json").unlink()
        code, _out, err = run(capsys, monkeypatch, [*argv, "--strict"], sb.token_for("admin"))
    assert code == 3
    assert "could not be collected (--strict)" in one_error_line(err)
    assert json.loads((tmp_path / "s.json").read_text())["meta"]["complete"] is False


def test_a_transient_error_is_retried_and_the_crawl_completes(
    demo, tmp_path, capsys, monkeypatch
) -> None:
    faults = [Fault("GET /projects/:id/variables", status=502, times=3)]
    with Sandbox(demo, tier="premium", faults=faults) as sb:
        code, _out, _err = run(
            capsys, monkeypatch, snapshot_args(sb, tmp_path), sb.token_for("admin")
        )
    assert code == 0
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["meta"]["complete"] is True
    assert data["meta"]["run"]["retries"] >= 3


def test_sandbox_url_from_environment(sandbox, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", sandbox.token_for("admin"))
    monkeypatch.setenv("GITLAB_URL", sandbox.url)
    code = main(["snapshot", "--group", "acme", "-o", str(tmp_path / "s.json"), "-q"])
    assert code == 0
    assert (tmp_path / "s.json").exists()


def test_version_and_help(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("posture ")
    assert main(["snapshot", "--help"]) == 0
    assert "--token-file" in capsys.readouterr().out
