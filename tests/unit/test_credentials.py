"""Where the URL and token come from, and the one-line errors when they are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from posture.errors import AuthenticationError, ConfigError
from posture.gitlab.credentials import resolve

TOKEN = "glpat-EXAMPLEcredentials00"


def test_token_file_wins_over_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    creds = resolve(
        url="https://gitlab.example.com",
        token_file=str(token_file),
        environ={"GITLAB_TOKEN": "other"},
    )
    assert creds.token == TOKEN
    assert TOKEN not in repr(creds)


def test_environment_supplies_url_and_token() -> None:
    creds = resolve(
        url=None,
        token_file=None,
        environ={"GITLAB_URL": "https://g.example", "GITLAB_TOKEN": f" {TOKEN} "},
    )
    assert (creds.url, creds.token, creds.source) == ("https://g.example", TOKEN, "GITLAB_TOKEN")


def test_no_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no GitLab URL"):
        resolve(url=None, token_file=None, environ={"GITLAB_TOKEN": TOKEN})


def test_no_token_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError, match="no GitLab token: set GITLAB_TOKEN"):
        resolve(url="https://g.example", token_file=None, environ={})


def test_empty_or_missing_token_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(AuthenticationError, match="is empty"):
        resolve(url="https://g.example", token_file=str(empty), environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(url="https://g.example", token_file=str(tmp_path / "nope"), environ={})


def test_python_gitlab_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "python-gitlab.cfg"
    cfg.write_text(
        "[global]\ndefault = corp\n\n[corp]\nurl = https://git.corp.example/gitlab\n"
        f"private_token = {TOKEN}\nssl_verify = false\n"
    )
    creds = resolve(url=None, token_file=None, gitlab_config=str(cfg), gitlab_id="corp", environ={})
    assert creds.url == "https://git.corp.example/gitlab"
    assert creds.token == TOKEN
    assert creds.ssl_verify is False
    assert TOKEN not in creds.source


def test_python_gitlab_config_unknown_section(tmp_path: Path) -> None:
    cfg = tmp_path / "python-gitlab.cfg"
    cfg.write_text("[global]\ndefault = corp\n\n[corp]\nurl = https://x.example\n")
    with pytest.raises(ConfigError, match="python-gitlab config"):
        resolve(url=None, token_file=None, gitlab_config=str(cfg), gitlab_id="nope", environ={})
