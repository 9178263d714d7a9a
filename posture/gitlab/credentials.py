"""Where the GitLab URL and token come from: flags, environment, or a python-gitlab config.

Tokens are never accepted on the command line (they would land in shell history, process
listings and CI logs). The order is: ``--token-file``, then ``GITLAB_TOKEN``, then the
python-gitlab config file section named by ``--gitlab-id``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from posture.errors import AuthenticationError, ConfigError

TOKEN_ENV = "GITLAB_TOKEN"  # noqa: S105 - the variable name, not a token
URL_ENV = "GITLAB_URL"


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str = field(repr=False)
    source: str  # where the token came from, for messages: never the token itself
    ssl_verify: bool | str | None = None  # from a python-gitlab config, when it says


def _read_token_file(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"token file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.__class__.__name__}") from None
    token = text.strip()
    if not token:
        raise AuthenticationError(f"token file {path} is empty")
    if "\n" in token:
        raise ConfigError(f"token file {path} must hold one token on one line")
    return token


def _from_gitlab_config(
    config_file: str | None, gitlab_id: str | None
) -> tuple[str | None, str | None, bool | str | None]:
    if not config_file and not gitlab_id:
        return None, None, None
    import gitlab.config  # local: only users of a config file pay for it

    files = [config_file] if config_file else None
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"python-gitlab config file {config_file} does not exist")
    try:
        parser = gitlab.config.GitlabConfigParser(gitlab_id=gitlab_id, config_files=files)
    except gitlab.config.ConfigError as exc:
        # python-gitlab's messages name sections and files, never token values.
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise ConfigError(f"python-gitlab config: {first}") from None
    return parser.url, parser.private_token or parser.oauth_token, parser.ssl_verify


def resolve(
    *,
    url: str | None,
    token_file: str | None,
    gitlab_config: str | None = None,
    gitlab_id: str | None = None,
    environ: dict[str, str] | None = None,
) -> Credentials:
    """Pick the URL and token, or say in one line what is missing."""
    env = os.environ if environ is None else environ
    cfg_url, cfg_token, cfg_verify = _from_gitlab_config(gitlab_config, gitlab_id)

    final_url = url or env.get(URL_ENV) or cfg_url
    if not final_url:
        raise ConfigError(
            f"no GitLab URL: pass --url, set {URL_ENV}, or use --gitlab-config/--gitlab-id"
        )

    if token_file:
        return Credentials(final_url, _read_token_file(token_file), f"--token-file {token_file}")
    if env.get(TOKEN_ENV, "").strip():
        return Credentials(final_url, env[TOKEN_ENV].strip(), TOKEN_ENV, None)
    if cfg_token:
        return Credentials(final_url, cfg_token, f"python-gitlab config [{gitlab_id}]", cfg_verify)
    raise AuthenticationError(
        f"no GitLab token: set {TOKEN_ENV} or pass --token-file PATH "
        "(a token with the read_api scope)"
    )
