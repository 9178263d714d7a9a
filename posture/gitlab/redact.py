"""Credential removal from webhook URLs before they are stored or printed.

GitLab returns a webhook's ``url`` as it was saved. People put credentials in it: basic-auth
userinfo, ``?token=`` parameters, chat-service URLs whose path *is* the secret (Slack, Discord,
Telegram, Microsoft Teams). :func:`redact_url` keeps what an auditor needs (scheme, host, port,
the shape of the path, parameter names) and replaces everything that could be a credential.

Rules:

* Userinfo (``user:password@``) is removed entirely; ``had_userinfo`` records that it was there.
* A query parameter keeps its name and position; its value becomes ``REDACTED`` when the name
  looks secret (token, key, sig, password, code, …) or the value looks like a credential
  (:func:`posture.gitlab.secrets.value_signals`). Fragments get the same treatment.
* Path segments that are credentials become ``REDACTED``: the known chat-webhook layouts and
  any segment the value detectors flag.
* ``{name}`` placeholders are kept: GitLab substitutes masked ``url_variables`` into them when it
  sends the hook, so they hold no secret (doc/user/project/integrations/webhooks.md, "Mask
  sensitive portions of webhook URLs").
* Anything that cannot be taken apart safely becomes ``<unparseable URL>``, which never echoes
  the input. The function never raises.

The output is stable: redacting an already redacted URL changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

from posture.gitlab.secrets import key_words, value_signals

__all__ = ["REDACTED", "UNPARSEABLE_URL", "RedactedUrl", "redact_url"]

REDACTED = "REDACTED"
UNPARSEABLE_URL = "<unparseable URL>"


@dataclass(frozen=True)
class RedactedUrl:
    """A URL that is safe to store and print, and what had to be taken out of it."""

    url: str
    had_userinfo: bool
    # Sorted names of what was redacted: query parameter names, "query" (a bare query item),
    # "fragment", "path", or "url" when the whole URL was withheld as unparseable.
    redacted_parts: tuple[str, ...]


_UNPARSEABLE = RedactedUrl(url=UNPARSEABLE_URL, had_userinfo=False, redacted_parts=("url",))

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}")
# RFC 3986 host (IP literal or reg-name, which also covers IPv4) and optional port, plus ``{}``
# for GitLab's masked url_variables and non-ASCII for internationalised names.
_HOST_PORT = re.compile(
    r"(?:\[[0-9A-Za-z:.%_~-]+\]|[A-Za-z0-9._~%!$&'()*+,;={}\u0080-\U0010ffff-]+)"
    r"(?::(?:[0-9]*|\{[A-Za-z0-9_]+\}))?"
)
_PLACEHOLDER = re.compile(r"\{[A-Za-z0-9_]+\}")

# Parameter names whose value is a credential whatever it looks like. Matched as whole words of
# the name (``X-Amz-Signature``, ``access_token``, ``apiKey``) or as the whole name run together.
_SECRET_PARAM_WORDS = frozenset(
    {
        "token", "tokens", "secret", "key", "apikey", "password", "passwd", "pwd", "pass",
        "passphrase", "auth", "sig", "signature", "code", "credential", "credentials", "session",
        "sessionid", "jwt", "bearer", "hmac", "otp",
    }
)  # fmt: skip
_SECRET_PARAM_JOINED = frozenset(
    {
        "accesstoken", "authtoken", "privatetoken", "apitoken", "clientsecret", "sessiontoken",
        "refreshtoken", "idtoken", "securitytoken", "accesskey", "secretkey", "privatekey",
    }
)  # fmt: skip
_HOOK_SEGMENTS = frozenset({"hooks", "hook", "webhooks", "webhook"})
_HOOK_ID = re.compile(r"(?=.*[A-Za-z])(?=.*[0-9])[A-Za-z0-9_-]{16,}")
_TELEGRAM = re.compile(r"(?:bot)?\d{5,}:[A-Za-z0-9_-]{20,}")


def _secret_param_name(name: str) -> bool:
    words = {word.lower() for word in key_words(name)}
    joined = re.sub(r"[^a-z0-9]", "", name.lower())
    return bool(words & _SECRET_PARAM_WORDS) or joined in _SECRET_PARAM_JOINED


def _looks_secret(text: str) -> bool:
    return value_signals(text).looks_like_secret


def _is_placeholder(decoded: str) -> bool:
    """A GitLab ``{name}`` placeholder; one whose name itself looks secret does not count."""
    return _PLACEHOLDER.fullmatch(decoded) is not None and not _looks_secret(decoded[1:-1])


def _redact_pairs(text: str, label: str | None, parts: set[str]) -> str:
    """Redact ``name=value`` items of a query or fragment, keeping names and order.

    ``label`` names the redaction in ``parts``; ``None`` means "use the parameter's name".
    """
    items: list[str] = []
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        decoded_name = unquote_plus(name)
        if not eq:
            if item and item != REDACTED and _looks_secret(decoded_name):
                items.append(REDACTED)
                parts.add(label or "query")
            else:
                items.append(item)
            continue
        if _looks_secret(decoded_name):  # the name itself is a credential (?glpat-…=1)
            items.append(REDACTED)
            parts.add(label or "query")
            continue
        decoded_value = unquote_plus(value)
        if value == REDACTED or not value or _is_placeholder(decoded_value):
            items.append(item)
        elif _secret_param_name(decoded_name) or _looks_secret(decoded_value):
            items.append(f"{name}={REDACTED}")
            parts.add(label or decoded_name)
        else:
            items.append(item)
    return "&".join(items)


def _redact_fragment(fragment: str, parts: set[str]) -> str:
    if "=" in fragment:
        return _redact_pairs(fragment, "fragment", parts)
    if fragment and fragment != REDACTED and _looks_secret(unquote(fragment)):
        parts.add("fragment")
        return REDACTED
    return fragment


def _secret_segments(host: str, segments: list[str]) -> set[int]:
    """Indexes of path segments that are credentials by the layout of known webhook services."""
    lowered = [segment.lower() for segment in segments]
    filled = [i for i, segment in enumerate(segments) if segment]
    found: set[int] = set()
    if host == "hooks.slack.com" and len(filled) >= 3:
        found.add(filled[-1])  # /services/T…/B…/<secret>, /workflows/…/<secret>
    if re.fullmatch(r"(?:[a-z0-9-]+\.)?discord(?:app)?\.com", host) and "webhooks" in lowered:
        found.add(lowered.index("webhooks") + 2)  # /api/webhooks/<id>/<token>
    if "incomingwebhook" in lowered:  # Teams: …/IncomingWebhook/<id>/<guid>/<secret>
        found.update(range(lowered.index("incomingwebhook") + 1, len(segments)))
    for index, segment in enumerate(segments):
        if _TELEGRAM.fullmatch(segment):  # /bot<id>:<token>/sendMessage
            found.add(index)
        # /hooks/<id>: Mattermost, Rocket.Chat and similar put the secret right after "hooks".
        if index and lowered[index - 1] in _HOOK_SEGMENTS and _HOOK_ID.fullmatch(segment):
            found.add(index)
            if index + 1 < len(segments) and _HOOK_ID.fullmatch(segments[index + 1]):
                found.add(index + 1)
    return found


def _redact_path(host: str, path: str, parts: set[str]) -> str:
    segments = path.split("/")
    by_layout = _secret_segments(host.lower().split(":")[0], segments)
    out: list[str] = []
    for index, segment in enumerate(segments):
        decoded = unquote(segment)
        keep = (
            not segment
            or segment == REDACTED
            or _is_placeholder(decoded)
            or (index not in by_layout and not _looks_secret(decoded))
        )
        if keep:
            out.append(segment)
        else:
            out.append(REDACTED)
            parts.add("path")
    return "/".join(out)


def _redact(url: str) -> RedactedUrl:
    text = url.strip()
    if not text or any(char.isspace() or not char.isprintable() for char in text):
        return _UNPARSEABLE
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme) or not rest.startswith("//"):
        return _UNPARSEABLE
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    _userinfo, at, host_port = authority.rpartition("@")
    if not _HOST_PORT.fullmatch(host_port):
        # Also catches an unencoded "/", "?" or "#" in a password, which ends the authority
        # early and leaves "user:pa" looking like a host with a bad port.
        return _UNPARSEABLE

    before_fragment, hash_mark, fragment = remainder.partition("#")
    path, question, query = before_fragment.partition("?")
    parts: set[str] = set()
    safe = f"{scheme}://{host_port}{_redact_path(host_port, path, parts)}"
    if question:
        safe += "?" + _redact_pairs(query, None, parts)
    if hash_mark:
        safe += "#" + _redact_fragment(fragment, parts)
    return RedactedUrl(url=safe, had_userinfo=bool(at), redacted_parts=tuple(sorted(parts)))


def redact_url(url: str) -> RedactedUrl:
    """Return ``url`` with userinfo removed and credential-looking parts replaced.

    Never raises: input that cannot be taken apart safely comes back as ``<unparseable URL>``
    with ``redacted_parts == ("url",)``, and that placeholder never contains the input.
    """
    if not isinstance(url, str):
        return _UNPARSEABLE
    try:
        return _redact(url)
    except Exception:  # a URL we cannot take apart is withheld whole, never echoed
        return _UNPARSEABLE
