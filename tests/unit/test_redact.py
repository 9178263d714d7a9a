"""Credential removal from webhook URLs. Every credential here is fake."""

from __future__ import annotations

import random
import string
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from posture.gitlab.redact import REDACTED, UNPARSEABLE_URL, RedactedUrl, redact_url
from posture.gitlab.secrets import value_signals

FAKE = "EXAMPLEFAKEEXAMPLEFAKE"


@pytest.mark.parametrize(
    ("url", "expected", "parts"),
    [
        # Nothing to redact: the URL comes back unchanged.
        ("https://ci.example.com/hook", "https://ci.example.com/hook", ()),
        (
            "https://ci.example.com:8443/api/v1/hook?project=42&event=push#top",
            "https://ci.example.com:8443/api/v1/hook?project=42&event=push#top",
            (),
        ),
        (
            "https://gitlab.example.com/api/v4/projects/1/hooks/2",
            "https://gitlab.example.com/api/v4/projects/1/hooks/2",
            (),
        ),
        ("http://[::1]:8080/hook", "http://[::1]:8080/hook", ()),
        # Secret parameter names: the value goes, the name and the order stay.
        (
            "https://ci.example.com/hook?job=build&token=EXAMPLE&ref=main",
            "https://ci.example.com/hook?job=build&token=REDACTED&ref=main",
            ("token",),
        ),
        (
            "https://ci.example.com/hook?private_token=x&API-Key=y&apikey=z&Password=p",
            "https://ci.example.com/hook?private_token=REDACTED&API-Key=REDACTED"
            "&apikey=REDACTED&Password=REDACTED",
            ("API-Key", "Password", "apikey", "private_token"),
        ),
        (
            "https://bucket.example.com/o?X-Amz-Credential=EXAMPLE%2F20240101&X-Amz-Signature=abc"
            "&X-Amz-Security-Token=def&X-Amz-Expires=300",
            "https://bucket.example.com/o?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"
            "&X-Amz-Security-Token=REDACTED&X-Amz-Expires=300",
            ("X-Amz-Credential", "X-Amz-Security-Token", "X-Amz-Signature"),
        ),
        # Microsoft Teams workflows / Power Automate carry the secret in sig=.
        (
            "https://prod-00.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke"
            "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=EXAMPLEFAKE",
            "https://prod-00.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke"
            "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=REDACTED",
            ("sig",),
        ),
        # A secret-looking value under an innocent name.
        (
            f"https://ci.example.com/hook?x=glpat-{FAKE}",
            "https://ci.example.com/hook?x=REDACTED",
            ("x",),
        ),
        # A bare query item or a parameter *name* that is itself a token.
        (
            f"https://ci.example.com/hook?glpat-{FAKE}",
            "https://ci.example.com/hook?REDACTED",
            ("query",),
        ),
        (
            f"https://ci.example.com/hook?glpat-{FAKE}=1&page=2",
            "https://ci.example.com/hook?REDACTED&page=2",
            ("query",),
        ),
        # Fragments: key=value pairs like the query, otherwise kept unless they look secret.
        (
            "https://app.example.com/cb#access_token=EXAMPLE&state=xyz",
            "https://app.example.com/cb#access_token=REDACTED&state=xyz",
            ("fragment",),
        ),
        (
            f"https://app.example.com/cb#glpat-{FAKE}",
            "https://app.example.com/cb#REDACTED",
            ("fragment",),
        ),
        ("https://app.example.com/docs#section-2", "https://app.example.com/docs#section-2", ()),
        # Chat services whose path is the credential.
        (
            "https://hooks.slack.com/services/T00000000/B00000000/EXAMPLEFAKEEXAMPLEFAKE",
            "https://hooks.slack.com/services/T00000000/B00000000/REDACTED",
            ("path",),
        ),
        (
            "https://discord.com/api/webhooks/000000000000000000/EXAMPLE_FAKE_EXAMPLE_FAKE",
            "https://discord.com/api/webhooks/000000000000000000/REDACTED",
            ("path",),
        ),
        (
            "https://discordapp.com/api/v10/webhooks/000000000000000000/shortfake",
            "https://discordapp.com/api/v10/webhooks/000000000000000000/REDACTED",
            ("path",),
        ),
        (
            "https://api.telegram.org/bot123456789:EXAMPLEFAKEEXAMPLEFAKEEXAMPLEFAKE00/sendMessage"
            "?chat_id=42",
            "https://api.telegram.org/REDACTED/sendMessage?chat_id=42",
            ("path",),
        ),
        (
            "https://example.webhook.office.com/webhookb2/00000000-0000-0000-0000-000000000000"
            "@00000000-0000-0000-0000-000000000000/IncomingWebhook/0123456789abcdef0123456789abcdef"
            "/00000000-0000-0000-0000-000000000000",
            "https://example.webhook.office.com/webhookb2/00000000-0000-0000-0000-000000000000"
            "@00000000-0000-0000-0000-000000000000/IncomingWebhook/REDACTED/REDACTED",
            ("path",),
        ),
        (
            "https://mattermost.example.com/hooks/xk3p9q1ab7cd2ef5gh8ij4kl6m",
            "https://mattermost.example.com/hooks/REDACTED",
            ("path",),
        ),
        # Any path segment the value detectors flag.
        (
            f"https://ci.example.com/trigger/glpat-{FAKE}/run",
            "https://ci.example.com/trigger/REDACTED/run",
            ("path",),
        ),
        # GitLab url_variables placeholders hold no secret and stay as they are.
        (
            "https://webhook.example.com/{path}?key={value}",
            "https://webhook.example.com/{path}?key={value}",
            (),
        ),
        (
            "https://hooks.slack.com/services/{team}/{bot}/{secret}",
            "https://hooks.slack.com/services/{team}/{bot}/{secret}",
            (),
        ),
    ],
)
def test_redaction_table(url: str, expected: str, parts: tuple[str, ...]) -> None:
    result = redact_url(url)
    assert result == RedactedUrl(url=expected, had_userinfo=False, redacted_parts=parts)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:Example-Fake-Pass1@ci.example.com/hook",
        "https://Example-Fake-Token-Only@ci.example.com/hook",
        "https://user:p%40ss%3Aword@ci.example.com/hook",
        "https://user:p@ss@ci.example.com/hook",  # unencoded "@" in the password
        "https://{user}:{password}@ci.example.com/hook",
        "https://:@ci.example.com/hook",
    ],
)
def test_userinfo_is_removed_entirely(url: str) -> None:
    result = redact_url(url)
    assert result.url == "https://ci.example.com/hook"
    assert result.had_userinfo
    assert result.redacted_parts == ()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "ci.example.com/hook?token=EXAMPLE",  # no scheme: cannot tell host from path
        "user:Example-Fake-Pass1@ci.example.com",  # would parse as scheme "user"
        "mailto:someone@example.com",
        "http://[::1",
        "https://user:Example/Fake@ci.example.com/hook",  # unencoded "/" in the password
        "https://user:Example?Fake@ci.example.com/hook",
        "https://user:Example#Fake@ci.example.com/hook",
        "https://ci.example.com/ho ok",
        "https://ci.example.com/hook\n?token=EXAMPLE",
        "https://ci.example.com:port/hook",
        "https://ci.exa\x00mple.com/hook",
    ],
)
def test_unparseable_input_is_withheld_whole(url: str) -> None:
    result = redact_url(url)
    assert result == RedactedUrl(url=UNPARSEABLE_URL, had_userinfo=False, redacted_parts=("url",))
    for fragment in ("Example", "Fake", "example.com", "someone"):
        assert fragment not in result.url


def test_non_string_input_does_not_raise() -> None:
    assert redact_url(None).url == UNPARSEABLE_URL  # type: ignore[arg-type]
    assert redact_url(b"https://x.example.com").url == UNPARSEABLE_URL  # type: ignore[arg-type]


def test_already_redacted_parts_are_not_counted_again() -> None:
    first = redact_url(
        "https://hooks.slack.com/services/T00000000/B00000000/EXAMPLEFAKEEXAMPLEFAKE?token=x"
    )
    second = redact_url(first.url)
    assert second.url == first.url
    assert second.redacted_parts == ()


# ----------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------

CRED_ALPHABET = string.ascii_letters + string.digits
PREFIXES = ["", "glpat-", "ghp_", "xoxb-", "GR1348941", "gldt-"]


@st.composite
def credentials(draw: st.DrawFn) -> str:
    """A random credential the detectors flag: optional known prefix, random body."""
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    body = "".join(rng.choice(CRED_ALPHABET) for _ in range(draw(st.integers(24, 48))))
    credential = draw(st.sampled_from(PREFIXES)) + body
    assume(value_signals(credential).looks_like_secret)
    return credential


safe_words = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8)
hosts = st.lists(safe_words, min_size=1, max_size=3).map(lambda labels: ".".join(labels) + ".test")
segments = st.lists(safe_words, max_size=4)
innocent_pairs = st.lists(st.tuples(safe_words, safe_words), max_size=3)
secret_names = st.sampled_from(["token", "access_token", "apiKey", "sig", "Password", "code"])


@st.composite
def urls_with_a_credential(draw: st.DrawFn) -> tuple[str, str]:
    credential = draw(credentials())
    host = draw(hosts)
    path = draw(segments)
    query = [f"{k}={v}" for k, v in draw(innocent_pairs)]
    fragment = draw(st.one_of(st.none(), safe_words))
    userinfo = ""
    where = draw(
        st.sampled_from(
            [
                "user",
                "password",
                "query_value",
                "query_secret_name",
                "query_bare",
                "fragment",
                "fragment_pair",
                "path",
            ]
        )
    )
    arbitrary = quote(draw(st.text(max_size=12)), safe="")
    if where == "user":
        userinfo = quote(credential, safe="") + ":" + arbitrary + "@"
    elif where == "password":
        userinfo = arbitrary + ":" + quote(credential, safe="") + "@"
    elif where == "query_value":
        query.insert(draw(st.integers(0, len(query))), f"{draw(safe_words)}={credential}")
    elif where == "query_secret_name":
        weak = credential[-8:]  # short and plain: only the name says it is secret
        credential = weak
        query.insert(draw(st.integers(0, len(query))), f"{draw(secret_names)}={weak}")
    elif where == "query_bare":
        query.insert(draw(st.integers(0, len(query))), credential)
    elif where == "fragment":
        fragment = credential
    elif where == "fragment_pair":
        fragment = f"{draw(safe_words)}={credential}&state={draw(safe_words)}"
    else:
        path.insert(draw(st.integers(0, len(path))), credential)
    url = f"https://{userinfo}{host}/" + "/".join(path)
    if query:
        url += "?" + "&".join(query)
    if fragment is not None:
        url += "#" + fragment
    return url, credential


@settings(max_examples=300, deadline=None)
@given(case=urls_with_a_credential())
def test_a_credential_never_survives_redaction(case: tuple[str, str]) -> None:
    url, credential = case
    result = redact_url(url)
    assert credential not in result.url
    assert result.url != UNPARSEABLE_URL  # well-formed URLs are redacted, not withheld


@settings(max_examples=300, deadline=None)
@given(case=urls_with_a_credential())
def test_redaction_is_idempotent_on_urls_with_credentials(case: tuple[str, str]) -> None:
    once = redact_url(case[0]).url
    assert redact_url(once).url == once


any_urlish = st.one_of(
    st.text(),
    st.builds(
        lambda scheme, auth, host, rest: f"{scheme}://{auth}{host}{rest}",
        st.sampled_from(["http", "https", "HTTPS", "ftp"]),
        st.one_of(st.just(""), st.text(max_size=10).map(lambda t: t + "@")),
        st.text(max_size=20),
        st.text(max_size=40),
    ),
)


@settings(max_examples=400, deadline=None)
@given(url=any_urlish)
def test_redact_url_never_raises_and_is_idempotent(url: str) -> None:
    once = redact_url(url)
    assert isinstance(once.url, str)
    assert list(once.redacted_parts) == sorted(set(once.redacted_parts))
    assert redact_url(once.url).url == once.url


@settings(max_examples=200, deadline=None)
@given(secret=st.text(min_size=1))
def test_placeholder_never_echoes_input(secret: str) -> None:
    result = redact_url("https://" + secret + " /")  # a space makes it unparseable
    assert result.url == UNPARSEABLE_URL
    assert REDACTED not in result.redacted_parts
