"""Value signals for CI/CD variables: credential shapes, the entropy detector, maskability.

Every credential here is fake. Token-shaped values are assembled at run time from a prefix and
an EXAMPLE/FAKE body so that no literal in this file matches a secret scanner's pattern.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posture.gitlab.secrets import (
    SECRET_KINDS,
    ValueSignals,
    key_words,
    name_suggests_secret,
    value_signals,
)

FAKE = "EXAMPLEFAKEEXAMPLEFAKE"  # 22 characters, obviously not a credential


def fake(prefix: str, body: str = FAKE) -> str:
    return prefix + body


def random_token(seed: int, alphabet: str, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(length))


def b64url_json(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def pem(label: str, body: str = "EXAMPLEFAKE") -> str:
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


BASE64 = string.ascii_letters + string.digits + "+/"
ALNUM = string.ascii_letters + string.digits
FAKE_CERT_BODY = "\n".join(random_token(i, BASE64, 64) for i in range(6))
FAKE_JWT = (
    b64url_json({"alg": "HS256", "typ": "JWT"})
    + "."
    + b64url_json({"sub": "EXAMPLE-FAKE-USER"})
    + ".FAKE_SIGNATURE_NOT_REAL_0000"
)
FAKE_SSH_PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + random_token(7, ALNUM, 43)


def kinds(value: str, variable_type: str = "env_var") -> tuple[str, ...]:
    return value_signals(value, variable_type).secret_kinds


# ----------------------------------------------------------------------------------------------
# Known shapes: one positive per shape, each reported under its own kind and nothing else.
# ----------------------------------------------------------------------------------------------

POSITIVES: list[tuple[str, str]] = [
    (fake("glpat-"), "gitlab_personal_access_token"),
    ("glpat-EXAMPLEFAKEexamplefake00", "gitlab_personal_access_token"),
    (fake("glpat-", "EXAMPLEFAKEexamplefakeEXAMPLE.01.0w1fake00"), "gitlab_personal_access_token"),
    (fake("gloas-"), "gitlab_oauth_application_secret"),
    (fake("gldt-"), "gitlab_deploy_token"),
    (fake("glrt-"), "gitlab_runner_authentication_token"),
    (fake("glrtr-"), "gitlab_runner_authentication_token"),
    (fake("GR1348941"), "gitlab_runner_registration_token"),
    (fake("glcbt-"), "gitlab_ci_job_token"),
    (fake("glptt-"), "gitlab_pipeline_trigger_token"),
    (fake("glft-"), "gitlab_feed_token"),
    (fake("glimt-"), "gitlab_incoming_email_token"),
    (fake("glagent-"), "gitlab_agent_token"),
    (fake("glwt-"), "gitlab_workspace_token"),
    (fake("glsoat-"), "gitlab_scim_token"),
    (fake("glffct-"), "gitlab_feature_flags_client_token"),
    (fake("AKIA", "EXAMPLEFAKE12345"), "aws_access_key_id"),
    (fake("ASIA", "EXAMPLEFAKE12345"), "aws_access_key_id"),
    (
        "[default]\naws_secret_access_key = " + fake("EXAMPLE/FAKE+", "x" * 27) + "\n",
        "aws_secret_access_key",
    ),
    (fake("ghp_", "EXAMPLEFAKE" * 3 + "000"), "github_token"),
    (fake("ghs_", "EXAMPLEFAKE" * 3 + "000"), "github_token"),
    (fake("github_pat_"), "github_token"),
    (fake("xoxb-", "000000000000-EXAMPLEFAKE"), "slack_token"),
    (fake("sk_" + "live_"), "stripe_live_key"),
    (fake("AIza", "EXAMPLEFAKE" * 3 + "00"), "google_api_key"),
    (FAKE_JWT, "jwt"),
    (fake("npm_", "EXAMPLEFAKE" * 3 + "000"), "npm_token"),
    ("//registry.npmjs.org/:_authToken=EXAMPLE-FAKE-npm-token-000\n", "npm_token"),
    (fake("pypi-AgE", "EXAMPLEFAKE" * 5), "pypi_token"),
    (pem("RSA PRIVATE KEY"), "private_key"),
    (pem("EC PRIVATE KEY"), "private_key"),
    (pem("OPENSSH PRIVATE KEY"), "private_key"),
    (pem("PGP PRIVATE KEY BLOCK"), "private_key"),
    (pem("PRIVATE KEY"), "private_key"),
    # A private key pasted into a single-line variable with escaped newlines.
    ("-----BEGIN PRIVATE KEY-----\\nEXAMPLEFAKE\\n-----END PRIVATE KEY-----", "private_key"),
    ("postgres://app:Example-Fake-Pass1@db.internal:5432/app", "url_with_credentials"),
    ("https://oauth2:Example%2FFake@gitlab.example.com/group/repo.git", "url_with_credentials"),
    ("DB_HOST=db.internal\nDB_PASSWORD=Example-Fake-Pass1\n", "secret_assignment"),
    ("Server=db.example.com;User Id=app;Password=ExampleFakePass1;", "secret_assignment"),
    ('{"client_secret": "example-fake-secret"}', "secret_assignment"),
    ("--password=ExampleFake1", "secret_assignment"),
    (
        json.dumps({"auths": {"registry.example.com": {"auth": "ZXhhbXBsZTpmYWtlLXBhc3M="}}}),
        "basic_auth_credentials",
    ),
    ("Authorization: Basic ZXhhbXBsZTpmYWtlLXBhc3M=", "basic_auth_credentials"),
    (
        "https://hooks.slack.com/services/T00000000/B00000000/EXAMPLEFAKEEXAMPLEFAKE",
        "slack_webhook_url",
    ),
    (
        "https://discord.com/api/webhooks/000000000000000000/EXAMPLE_FAKE_EXAMPLE_FAKE",
        "discord_webhook_url",
    ),
    ("123456789:" + "EXAMPLEFAKE" * 3 + "00", "telegram_bot_token"),
    (random_token(1, ALNUM, 40), "high_entropy"),
    (random_token(2, BASE64, 32), "high_entropy"),
    (random_token(3, "0123456789abcdef", 32), "high_entropy"),  # e.g. a 32-hex API key
    ("aB3$dE6^gH9*jK2@mN5!pQ8&", "high_entropy"),  # generated password with symbols
]


@pytest.mark.parametrize(("value", "kind"), POSITIVES)
def test_known_credential_shapes_are_recognised(value: str, kind: str) -> None:
    signals = value_signals(value)
    assert signals.looks_like_secret
    assert signals.secret_kinds == (kind,)
    assert signals.value_available


def test_gcp_service_account_file_is_recognised_with_its_private_key() -> None:
    key_file = json.dumps(
        {
            "type": "service_account",
            "project_id": "example-fake-project",
            "private_key_id": "0" * 40,
            "private_key": pem("PRIVATE KEY").replace("\n", "\\n"),
            "client_email": "ci@example-fake-project.iam.gserviceaccount.com",
        },
        indent=2,
    )
    assert kinds(key_file, "file") == ("gcp_service_account_key", "private_key")


def test_kubeconfig_file_with_token_and_client_key_is_flagged() -> None:
    client_key = base64.b64encode(pem("RSA PRIVATE KEY").encode()).decode()
    ca_cert = base64.b64encode(pem("CERTIFICATE", FAKE_CERT_BODY).encode()).decode()
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {ca_cert}\n"
        "    server: https://k8s.example.com:6443\n  name: example\n"
        "users:\n- name: ci\n  user:\n"
        f"    token: {FAKE_JWT}\n    client-key-data: {client_key}\n"
    )
    assert kinds(kubeconfig, "file") == ("jwt", "private_key")


def test_several_shapes_in_one_file_are_all_reported_sorted() -> None:
    dotenv = (
        f"GITLAB_TOKEN={fake('glpat-')}\nAWS_ACCESS_KEY_ID={fake('AKIA', 'EXAMPLEFAKE12345')}\n"
    )
    assert kinds(dotenv, "file") == ("aws_access_key_id", "gitlab_personal_access_token")


# ----------------------------------------------------------------------------------------------
# Things that are not credentials.
# ----------------------------------------------------------------------------------------------

NEGATIVES: list[str] = [
    "",
    "true",
    "false",
    "12345678901234567890",
    "production",
    "this is just some plain text with words in it",
    "550e8400-e29b-41d4-a716-446655440000",  # UUIDs are ids here (documented decision)
    "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",  # commit SHA
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # sha256 digest
    "1.2.3-rc.1+build.20240101",
    "/usr/local/lib/python3.11/site-packages",
    "C:\\Program Files\\Microsoft Visual Studio\\2022\\Community",
    "registry.example.com/group/app:1.2.3",
    "registry.gitlab.com/my-group/my-project/backend-service:v2.14.3-alpine3.19",
    "docker.io/library/postgres:16.2-bookworm@sha256:"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "us-docker.pkg.dev/my-project-123456/containers/api-gateway:20240315-1a2b3c4",
    "https://gitlab.example.com/api/v4/projects/123/jobs/artifacts/main/download?job=build",
    "postgres://app@db.internal:5432/appdb?sslmode=require",  # user, no password
    "postgres://app:${DB_PASSWORD}@db.internal:5432/app",  # the password is a reference
    "arn:aws:iam::123456789012:role/GitLabRunnerDeployRole",
    "s3://my-company-artifacts-bucket/builds/2024/release-candidate",
    "MyApplicationServiceNameForProduction",
    "UTF8StringEncoderV2Implementation",
    "ReviewApp2FeatureBranch3Deployment",
    "my_very_long_snake_case_identifier_name",
    "ubuntu22.04-python3.11-node20-base",
    "aarch64-unknown-linux-gnu-gcc-13.2.0",
    "-Xmx2048m -XX:+UseG1GC -Dfile.encoding=UTF-8",
    "--set image.repository=registry.example.com/team/service --set image.tag=1.4.2",
    "password: ${DB_PASSWORD}\nuser: app\n",
    "auth_method: kerberos\ntoken_type: bearer\npassword_file: /run/secrets/db\n",
    "password: <your-password-here>",
    "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
    "glpat-short",  # a prefix alone is not a token
    "AKIA-not-a-key",
    pem("CERTIFICATE", FAKE_CERT_BODY),  # KUBE_CA_PEM: public material
    pem("PUBLIC KEY", FAKE_CERT_BODY),
    f"gitlab.example.com {FAKE_SSH_PUBLIC}\n",  # SSH_KNOWN_HOSTS
    f"|1|{random_token(8, BASE64, 28)}=|{random_token(9, BASE64, 27)}= {FAKE_SSH_PUBLIC}\n",
]


@pytest.mark.parametrize("value", NEGATIVES)
def test_ordinary_values_do_not_look_like_secrets(value: str) -> None:
    signals = value_signals(value, "file" if "\n" in value else "env_var")
    assert signals.secret_kinds == ()
    assert not signals.looks_like_secret


@pytest.mark.parametrize(
    ("alphabet", "length", "minimum_rate"),
    [
        (BASE64, 24, 0.97),
        (BASE64, 40, 0.99),
        (ALNUM, 32, 0.99),
        (string.ascii_letters + string.digits + "-_", 43, 0.99),  # base64url, 32 bytes
        ("0123456789abcdef", 32, 0.95),
        (string.ascii_lowercase + string.digits, 26, 0.9),  # webhook-style ids
    ],
)
def test_random_tokens_are_caught_by_entropy(
    alphabet: str, length: int, minimum_rate: float
) -> None:
    """Random key material with no known prefix is still flagged (seeded, so deterministic)."""
    tokens = [random_token(1000 + i, alphabet, length) for i in range(300)]
    caught = sum("high_entropy" in kinds(token) for token in tokens)
    assert caught / len(tokens) >= minimum_rate


def test_entropy_scan_judges_tokens_inside_larger_text() -> None:
    token = random_token(5, ALNUM, 40)
    assert kinds(f"deploy --target https://api.example.com/v1 --seed {token} -v") == (
        "high_entropy",
    )
    # Named in a header, the same token is reported as an assignment instead.
    assert kinds(f"curl -H 'X-Api-Key: {token}' https://api.example.com/v1") == (
        "secret_assignment",
    )


# ----------------------------------------------------------------------------------------------
# Maskability: GitLab's Ci::Maskable rules, exactly.
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "raw", "expected"),
    [
        ("abcdefgh", False, True),  # exactly 8
        ("abcdefg", False, False),  # 7 is too short
        ("Hello+World_123/@:-~.=", False, True),  # the whole allowed alphabet
        ("abc defgh", False, False),  # no spaces
        ("line-one\nline-two", False, False),  # single line only
        ("line-one\nline-two", True, False),
        ("tab\tseparated", True, False),
        ("pa$$word123", False, False),  # "$" would be a variable reference when expanded
        ("pa$$word123", True, True),  # raw variables allow any non-whitespace character
        ("HelloWorld%#^", False, False),
        ("HelloWorld%#^", True, True),
        ("pässwörd123", False, False),
        ("pässwörd123", True, True),
        ("nbsp\u00a0inside1", True, True),  # Ruby's \S is ASCII-only: NBSP counts as a char
        ("", False, False),
        (fake("glpat-"), False, True),
    ],
)
def test_maskable_follows_gitlab_rules(value: str, raw: bool, expected: bool) -> None:
    assert value_signals(value, raw=raw).maskable is expected


def test_hidden_variable_has_no_value_signals() -> None:
    assert value_signals(None) == ValueSignals(
        looks_like_secret=False, secret_kinds=(), maskable=None, value_available=False
    )
    assert value_signals(None, "file").value_available is False


def test_file_variable_with_private_key_cannot_be_masked() -> None:
    signals = value_signals(pem("OPENSSH PRIVATE KEY"), "file")
    assert signals.looks_like_secret
    assert signals.maskable is False


# ----------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "TOKEN",
        "GITLAB_TOKEN",
        "DEPLOY_TOKEN",
        "CI_REGISTRY_PASSWORD",
        "DB_PASSWD",
        "SMTP_PASS",
        "DB_PWD",
        "AWS_SECRET_ACCESS_KEY",
        "SECRET_KEY_BASE",
        "API_KEY",
        "STRIPE_APIKEY",
        "apiKey",
        "dbPassword",
        "SSH_PRIVATE_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "NPM_AUTH",
        "BASIC_AUTH",
        "GPG_PASSPHRASE",
        "GITLAB_PAT",
        "LICENSE_KEY",
        "sonar.login.token",
    ],
)
def test_secret_names(key: str) -> None:
    assert name_suggests_secret(key)


@pytest.mark.parametrize(
    "key",
    [
        "TOKENIZER_MODEL",
        "KEYBOARD_LAYOUT",
        "PASSWORDLESS_LOGIN",
        "CACHE_KEY",
        "S3_KEY",
        "PRIMARY_KEY",
        "AWS_ACCESS_KEY_ID",
        "TOKEN_URL",
        "PASSWORD_FILE",
        "SECRET_NAME",
        "AUTH_USER",
        "DEPLOY_ENVIRONMENT",
        "KUBE_NAMESPACE",
        "",
        "___",
    ],
)
def test_non_secret_names(key: str) -> None:
    assert not name_suggests_secret(key)


def test_key_words_split_on_separators_and_case() -> None:
    assert key_words("dbPassword") == ("DB", "PASSWORD")
    assert key_words("DB_PASSWORD") == ("DB", "PASSWORD")
    assert key_words("X-Amz-Signature") == ("X", "AMZ", "SIGNATURE")
    assert key_words("APIKey") == ("API", "KEY")


# ----------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------

values = st.none() | st.text() | st.text(alphabet=string.printable, max_size=400)


@settings(max_examples=300, deadline=None)
@given(value=values, variable_type=st.sampled_from(["env_var", "file"]), raw=st.booleans())
def test_value_signals_never_raises_and_is_well_formed(
    value: str | None, variable_type: str, raw: bool
) -> None:
    signals = value_signals(value, variable_type, raw=raw)
    assert signals.looks_like_secret == bool(signals.secret_kinds)
    assert list(signals.secret_kinds) == sorted(set(signals.secret_kinds))
    assert set(signals.secret_kinds) <= SECRET_KINDS  # only fixed labels, never value text
    assert signals.value_available is (value is not None)
    assert (signals.maskable is None) is (value is None)


@settings(max_examples=200, deadline=None)
@given(value=values, raw=st.booleans())
def test_value_signals_is_deterministic(value: str | None, raw: bool) -> None:
    assert value_signals(value, raw=raw) == value_signals(value, raw=raw)


@settings(max_examples=200, deadline=None)
@given(before=st.text(), after=st.text(), raw=st.booleans())
def test_values_with_a_newline_are_never_maskable(before: str, after: str, raw: bool) -> None:
    assert value_signals(f"{before}\n{after}", raw=raw).maskable is False


@settings(max_examples=200, deadline=None)
@given(key=st.text())
def test_name_suggests_secret_never_raises(key: str) -> None:
    assert name_suggests_secret(key) in (True, False)


def test_pathological_input_is_fast() -> None:
    """Adversarial shapes (long runs, many headers) must not make regexes backtrack badly."""
    nasty = [
        "a." * 50_000,
        "1." * 50_000 + "/",
        "-----BEGIN A-----" * 5_000,
        "x" * 100_000,
        "password=" * 20_000,
        '"type": "service_account" ' * 5_000,
        "eyJ" * 30_000,
        "a+" * 50_000 + "://",
        "".join(f"-----BEGIN A{i}-----" for i in range(5_000)),
    ]
    start = time.perf_counter()
    for value in nasty:
        value_signals(value, "file")
    assert time.perf_counter() - start < 5
