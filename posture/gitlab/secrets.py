"""Signals derived from a CI/CD variable's value, computed where the value is read.

The collector calls :func:`value_signals` on the value GitLab returned and keeps only the
resulting :class:`ValueSignals`; the value itself is dropped at the border and never reaches a
snapshot, a log line or an error message. Nothing in this module stores, returns or formats any
part of a value.

Two families of signal:

* *Does the value look like a credential?* Known credential shapes (GitLab's token prefixes,
  cloud and SaaS keys, private keys, JWTs, URLs with passwords, ``password = …`` assignments in
  file contents) and a generic high-entropy detector for secrets with no recognisable shape.
* *Could GitLab mask it?* GitLab refuses to mask values that break its masking rules, so an
  unmasked secret that *cannot* be masked needs a different fix (rotate, or move it to a file
  variable or a secrets manager) than one that simply was not ticked.

Decisions worth knowing:

* UUIDs are identifiers (project, tenant and client ids) far more often than secrets, so the
  generic detector ignores them; a secret that happens to be a UUID is still caught by
  :func:`name_suggests_secret` on the variable's key.
* Hex strings of exactly 40, 64 or 128 characters are commit SHAs and SHA-1/256/512
  digests (pinned checksums are common CI variables); other hex lengths, such as 32-character
  API keys, are judged by entropy like anything else.
* Public key material is never a secret: certificates, public keys, SSH public keys and hashed
  ``known_hosts`` entries are removed before the generic scan, so ``KUBE_CA_PEM`` or
  ``SSH_KNOWN_HOSTS`` file variables do not look like credentials.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import unquote

__all__ = [
    "SECRET_KINDS",
    "ValueSignals",
    "key_words",
    "name_suggests_secret",
    "value_signals",
]


@dataclass(frozen=True)
class ValueSignals:
    """What the collector may keep about a variable's value: never the value itself."""

    looks_like_secret: bool
    secret_kinds: tuple[str, ...]
    maskable: bool | None
    value_available: bool


# --------------------------------------------------------------------------------------------
# Maskability
#
# GitLab's rules, doc/ci/variables/_index.md, "Mask a CI/CD variable": the value must be a single
# line with no spaces and 8 characters or longer; when variable expansion is on (the default,
# ``raw: false``) it may use only the Base64 alphabet (RFC 4648) plus ``@ : . ~``, which also
# rules out ``$`` variable references; raw variables may contain any non-whitespace character.
# (Recent revisions of the page list only the first rules; the character set is still enforced.)
# The rules are enforced by ``Ci::Maskable::REGEX`` and ``MASK_AND_RAW_REGEX`` in
# app/models/concerns/ci/maskable.rb, copied here exactly from its current, flag-free form.
# Older releases gated the raw relaxation behind the feature flag
# ``ci_remove_character_limitation_raw_masked_var``; with the flag off they apply ``REGEX`` to
# raw values too, so on those releases ``raw=True`` can over-report maskability. Ruby's ``\S``
# is ASCII whitespace only, hence the explicit class. The doc's last rule, "not the name of an
# existing variable", needs the other variables and is not checked here.
# --------------------------------------------------------------------------------------------
_MASKABLE_EXPANDED = re.compile(r"[a-zA-Z0-9_+=/@:.~-]{8,}")
_MASKABLE_RAW = re.compile(r"[^ \t\r\n\f\v]{8,}")


def _maskable(value: str, *, raw: bool) -> bool:
    pattern = _MASKABLE_RAW if raw else _MASKABLE_EXPANDED
    return pattern.fullmatch(value) is not None


# --------------------------------------------------------------------------------------------
# Known credential shapes
# --------------------------------------------------------------------------------------------

# GitLab token prefixes: doc/security/tokens/_index.md, "Token prefixes". The runner
# registration token prefix is not in that table; it is RUNNERS_TOKEN_PREFIX in
# app/models/concerns/runners_token_prefixable.rb. Personal access token prefixes can be
# changed by an administrator; only the default is recognised here. Bodies are at least 20
# characters; newer routable tokens add ``.``-separated parts, hence ``.`` in the class.
_GITLAB_PREFIXES: tuple[tuple[str, str], ...] = (
    ("glpat-", "gitlab_personal_access_token"),
    ("gloas-", "gitlab_oauth_application_secret"),
    ("gldt-", "gitlab_deploy_token"),
    ("glrtr-", "gitlab_runner_authentication_token"),
    ("glrt-", "gitlab_runner_authentication_token"),
    ("glcbt-", "gitlab_ci_job_token"),
    ("glptt-", "gitlab_pipeline_trigger_token"),
    ("glft-", "gitlab_feed_token"),
    ("glimt-", "gitlab_incoming_email_token"),
    ("glagent-", "gitlab_agent_token"),
    ("glwt-", "gitlab_workspace_token"),
    ("glsoat-", "gitlab_scim_token"),
    ("glffct-", "gitlab_feature_flags_client_token"),
    ("GR1348941", "gitlab_runner_registration_token"),
)

_PLACEHOLDER = re.compile(
    r"""
    \$\{?[A-Za-z_][A-Za-z0-9_]*\}?      # $VAR, ${VAR}
    | \$\{\{.*\}\} | \{\{.*\}\}         # ${{ secrets.X }}, {{ template }}
    | \{[A-Za-z0-9_]+\}                 # GitLab webhook url_variables: {name}
    | %[A-Za-z_][A-Za-z0-9_]*%          # %VAR% (Windows batch)
    | <[^<>]*>                          # <your-token-here>
    | \[MASKED\]x* | REDACTED | (.)\1*  # already hidden, or one repeated character
    """,
    re.VERBOSE | re.IGNORECASE | re.DOTALL,
)


def _is_placeholder(text: str) -> bool:
    """True for values that stand for a secret rather than being one."""
    return _PLACEHOLDER.fullmatch(text) is not None


def _decode_b64(text: str, limit: int = 4096) -> bytes | None:
    """Decode (a prefix of) a base64 blob, tolerating missing padding; None if it is not."""
    chunk = text[:limit].rstrip("=")
    if len(chunk) % 4 == 1:
        chunk = chunk[:-1]
    try:
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _basic_auth_pair(match: re.Match[str]) -> bool:
    """The base64 blob decodes to ``user:password`` with a non-empty password."""
    decoded = _decode_b64(match.group("b64"))
    if decoded is None:
        return False
    user, sep, password = decoded.partition(b":")
    return bool(sep and user and password) and not _is_placeholder(password.decode("latin-1"))


def _url_password(match: re.Match[str]) -> bool:
    """Userinfo carries a password that is not a placeholder such as ``$DB_PASSWORD``."""
    _user, sep, password = match.group("userinfo").partition(":")
    if not sep or not password:
        return False
    return not _is_placeholder(unquote(password))


def _not_placeholder(group: str) -> Callable[[re.Match[str]], bool]:
    def check(match: re.Match[str]) -> bool:
        return not _is_placeholder(match.group(group).strip("\"'"))

    return check


@dataclass(frozen=True)
class _Shape:
    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[re.Match[str]], bool] | None = None


_B = r"(?<![A-Za-z0-9])"  # start of a token: not glued to a preceding letter or digit
_E = r"(?![A-Za-z0-9])"  # end of a token

_SHAPES: tuple[_Shape, ...] = (
    *(
        _Shape(kind, re.compile(_B + re.escape(prefix) + r"[A-Za-z0-9_.-]{20,}"))
        for prefix, kind in _GITLAB_PREFIXES
    ),
    _Shape("gitlab_session_cookie", re.compile(r"_gitlab_session=[0-9a-f]{20,}")),
    _Shape("aws_access_key_id", re.compile(_B + r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}" + _E)),
    _Shape(
        "aws_secret_access_key",
        re.compile(
            r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?"
            r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
    ),
    _Shape("github_token", re.compile(_B + r"gh[pousr]_[A-Za-z0-9]{36,}" + _E)),
    _Shape("github_token", re.compile(_B + r"github_pat_[A-Za-z0-9_]{22,}")),
    _Shape("slack_token", re.compile(_B + r"xox[abprs]-[A-Za-z0-9-]{10,}")),
    _Shape(
        "slack_webhook_url",
        re.compile(r"(?i)hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{16,}"),
    ),
    _Shape(
        "discord_webhook_url",
        re.compile(
            r"(?i)discord(?:app)?\.com/api/(?:v\d+/)?webhooks/\d+/[A-Za-z0-9_-]{20,}",
        ),
    ),
    _Shape("telegram_bot_token", re.compile(_B + r"\d{6,12}:[A-Za-z0-9_-]{35}" + _E)),
    _Shape("stripe_live_key", re.compile(_B + r"(?:sk|rk)_live_[0-9A-Za-z]{20,}")),
    _Shape("google_api_key", re.compile(_B + r"AIza[0-9A-Za-z_-]{35}" + _E)),
    _Shape(
        "jwt",
        re.compile(_B + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    ),
    _Shape("npm_token", re.compile(_B + r"npm_[A-Za-z0-9]{36}" + _E)),
    _Shape(
        "npm_token",
        re.compile(r"_auth(?:Token)?\s*=\s*(?P<v>[^\s]{8,})"),
        _not_placeholder("v"),
    ),
    _Shape("pypi_token", re.compile(_B + r"pypi-AgE[A-Za-z0-9_-]{50,}")),
    _Shape(
        "url_with_credentials",
        re.compile(r"(?i)\b[a-z][a-z0-9+.-]{0,30}://(?P<userinfo>[^\s/?#@\"'<>]*)@"),
        _url_password,
    ),
    _Shape(
        "basic_auth_credentials",
        re.compile(
            r"(?:\"auth\"\s*:\s*\"|(?i:\bbasic)\s+)(?P<b64>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])"
        ),
        _basic_auth_pair,
    ),
)

# PEM and PGP armour: ``-----BEGIN <LABEL>-----``. Labels containing PRIVATE KEY (RSA, EC, DSA,
# OPENSSH, ENCRYPTED, PGP … BLOCK, or plain PKCS#8) are credentials; every other label
# (CERTIFICATE, PUBLIC KEY, PGP PUBLIC KEY BLOCK, CERTIFICATE REQUEST) is public and removed.
_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----")
# The same headers, base64-encoded, as in kubeconfig ``client-key-data`` /
# ``certificate-authority-data``: base64("-----BEGIN") starts with this.
_B64_PEM = re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/]*={0,2}")
_SSH_PUBLIC = re.compile(
    r"(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)"
    r"@openssh\.com)\s+AAAA[A-Za-z0-9+/]+={0,3}"
)
# A Google Cloud service-account key file: JSON with this type and a "private_key" member.
_GCP_TYPE = re.compile(r"\"type\"\s*:\s*\"service_account\"")
_KNOWN_HOSTS_HASH = re.compile(r"\|1\|[A-Za-z0-9+/]+=*\|[A-Za-z0-9+/]+=*")


def _pem_spans(text: str) -> tuple[bool, list[tuple[int, int]]]:
    """Find armoured blocks; return (private key seen, spans to blank out)."""
    private = False
    spans: list[tuple[int, int]] = []
    covered = 0  # headers inside a block already found are not searched again (stays linear)
    for match in _PEM_BEGIN.finditer(text):
        label = match.group(1)
        if "PRIVATE KEY" in label:
            private = True
        if match.start() < covered:
            continue
        end_marker = f"-----END {label}-----"
        end = text.find(end_marker, match.end())
        covered = len(text) if end < 0 else end + len(end_marker)
        spans.append((match.start(), covered))
    for match in _B64_PEM.finditer(text):
        decoded = _decode_b64(match.group(0), limit=128)
        if decoded is None:
            continue
        if b"PRIVATE KEY" in decoded:
            private = True
        spans.append(match.span())
    spans.extend(m.span() for m in _SSH_PUBLIC.finditer(text))
    spans.extend(m.span() for m in _KNOWN_HOSTS_HASH.finditer(text))
    return private, spans


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Replace spans with spaces, keeping offsets, so later scans skip what is explained."""
    pieces: list[str] = []
    position = 0
    for span_start, end in sorted(spans):
        start = max(span_start, position)
        if end <= start:
            continue
        pieces.append(text[position:start])
        pieces.append(" " * (end - start))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


# --------------------------------------------------------------------------------------------
# Secret-looking names
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# Whole words that make a key secret-like wherever they appear.
_SECRET_WORDS = frozenset(
    {
        "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS", "PASSWD", "PASS",
        "PWD", "PASSPHRASE", "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH", "APIKEY", "PAT",
        "COOKIE", "JWT", "BEARER", "PRIVATEKEY", "ACCESSTOKEN", "AUTHTOKEN", "SECRETKEY",
    }
)  # fmt: skip
# KEY alone is ambiguous (CACHE_KEY, S3_KEY, PRIMARY_KEY); only these compounds count.
_SECRET_KEY_QUALIFIERS = frozenset(
    {
        "API", "PRIVATE", "SECRET", "ACCESS", "SSH", "DEPLOY", "SIGNING", "ENCRYPTION",
        "MASTER", "AUTH", "LICENSE", "APP", "ACCOUNT", "SHARED", "HMAC", "GPG", "CLIENT",
    }
)  # fmt: skip
# A key *ending* in one of these describes a secret (its URL, file, expiry) rather than
# holding one: TOKEN_URL, PASSWORD_FILE, SECRET_NAME, AWS_ACCESS_KEY_ID.
_METADATA_WORDS = frozenset(
    {
        "URL", "URI", "ENDPOINT", "HOST", "HOSTNAME", "PORT", "ENABLED", "DISABLED", "ENABLE",
        "DISABLE", "TYPE", "MODE", "METHOD", "FILE", "PATH", "DIR", "ID", "NAME", "EXPIRY",
        "EXPIRES", "EXPIRATION", "TTL", "LENGTH", "LEN", "USER", "USERNAME", "REQUIRED",
        "PROVIDER", "SCOPE", "SCOPES", "VERSION", "ALGORITHM", "ALG", "FORMAT", "ISSUER",
        "AUDIENCE", "REGION", "ROLE",
    }
)  # fmt: skip
# For ``name = value`` inside file contents the key must *end* in one of these: a stricter
# test, because auth_method: kerberos or token_type: bearer are not credentials.
_ASSIGNMENT_NOUNS = frozenset(
    {
        "PASSWORD", "PASSWD", "PWD", "PASS", "PASSPHRASE", "SECRET", "TOKEN", "APIKEY",
        "PRIVATEKEY", "ACCESSTOKEN", "AUTHTOKEN", "SECRETKEY", "CREDENTIALS",
    }
)  # fmt: skip


def key_words(key: str) -> tuple[str, ...]:
    """Split a name into upper-case words: ``dbPassword`` and ``DB_PASSWORD`` both give
    ``("DB", "PASSWORD")``; shared by variable keys and URL parameter names."""
    return tuple(word.upper() for word in _WORD.findall(key))


def _has_secret_word(words: tuple[str, ...]) -> bool:
    for index, word in enumerate(words):
        if word in _SECRET_WORDS:
            return True
        if word == "KEY" and index > 0 and words[index - 1] in _SECRET_KEY_QUALIFIERS:
            return True
    return False


def name_suggests_secret(key: str) -> bool:
    """Whether a variable's key says it holds a credential (``DEPLOY_TOKEN``, ``dbPassword``).

    Matches whole words only, so ``TOKENIZER_MODEL`` and ``KEYBOARD_LAYOUT`` do not count, and
    a key ending in a metadata word (``TOKEN_URL``, ``PASSWORD_FILE``) describes a secret
    rather than holding one.
    """
    if not isinstance(key, str):
        return False
    words = key_words(key)
    if not words or words[-1] in _METADATA_WORDS:
        return False
    return _has_secret_word(words)


def _assignment_key_is_secret(key: str) -> bool:
    words = key_words(key)
    if not words:
        return False
    last = words[-1]
    if last in _ASSIGNMENT_NOUNS:
        return True
    return last == "KEY" and len(words) > 1 and words[-2] in _SECRET_KEY_QUALIFIERS


_ASSIGNMENT = re.compile(
    r"""(?P<q>["']?)(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,80})(?P=q)[ \t]*[:=][ \t]*
        (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s,;}&\#]+)""",
    re.VERBOSE,
)
_TRIVIAL = re.compile(
    r"(?i:true|false|yes|no|on|off|null|none|nil|undefined|required|optional)"
    r"|[+-]?\d+(?:\.\d+)?"
)


def _literal_assignment(match: re.Match[str]) -> bool:
    """``password = hunter22`` with a real value, not ``password: ${DB_PASSWORD}``."""
    if not _assignment_key_is_secret(match.group("key")):
        return False
    value = match.group("value").strip("\"'").strip()  # blanked spans leave only spaces
    if len(value) < 6 or _is_placeholder(value) or _TRIVIAL.fullmatch(value):
        return False
    # A path or URL names where the secret lives, a YAML tag (!vault) or a SOPS envelope
    # (ENC[...]) says it is stored encrypted: none of them is the secret in clear.
    return not value.startswith(("/", "./", "../", "~/", "!", "ENC[")) and "://" not in value


# --------------------------------------------------------------------------------------------
# Generic high-entropy detector
# --------------------------------------------------------------------------------------------

_MIN_TOKEN = 20
# Candidate tokens: runs of base64/base64url/hex characters plus ``.`` and ``~``. Anything else
# (``:``, ``@``, ``?``, ``&``, quotes, whitespace) separates tokens, which splits URLs, image
# references and ``key=value`` pairs into parts that are judged on their own.
_CANDIDATE = re.compile(r"[A-Za-z0-9+/_.~-]{20,}")  # _MIN_TOKEN
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DIGEST = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})", re.IGNORECASE)
_VERSION = re.compile(r"v?\d+(?:\.\d+)+(?:[-+.][0-9A-Za-z.+-]*)?")
_PARTS = re.compile(r"[A-Za-z0-9]+")
# Thresholds, tuned on random tokens (which pass) and paths, image references, hostnames,
# identifiers and prose (which do not); see tests/unit/test_secrets.py.
_MIN_ENTROPY_RATIO = 0.9  # share of the entropy a random string of that length would have
# Random strings switch between lower case, upper case and digits every few characters; words,
# paths and CamelCase identifiers rarely do (upper to lower, as in "Name", is not a switch).
_MIN_SWITCH_RATIO = 0.2
# Tokens in one letter case (base32, lower-case ids) switch less often; below the ratio above
# they still count when they also lack the vowels that words have (about 19% of random letters,
# nearer 40% in English words and identifiers).
_LOW_SWITCH_RATIO = 0.1
_MAX_RANDOM_VOWELS = 0.25


def _is_version(token: str) -> bool:
    # Versions are short; the length cap also keeps this pattern's backtracking bounded.
    return len(token) <= 64 and _VERSION.fullmatch(token) is not None


def _shannon(text: str) -> float:
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _char_class(char: str) -> int:
    return 0 if char.islower() else 1 if char.isupper() else 2


def _switch_ratio(token: str) -> float:
    """Class switches between adjacent letters/digits, per letter/digit; separators reset."""
    switches = 0
    count = 0
    for part in _PARTS.findall(token):
        count += len(part)
        for left, right in pairwise(part):
            a, b = _char_class(left), _char_class(right)
            if a != b and not (a == 1 and b == 0):
                switches += 1
    return switches / count if count else 0.0


def _vowel_ratio(token: str) -> float:
    letters = [c for c in token.lower() if "a" <= c <= "z"]
    return sum(1 for c in letters if c in "aeiou") / len(letters) if letters else 0.0


def _switches_like_random(token: str) -> bool:
    ratio = _switch_ratio(token)
    if ratio >= _MIN_SWITCH_RATIO:
        return True
    return ratio >= _LOW_SWITCH_RATIO and _vowel_ratio(token) < _MAX_RANDOM_VOWELS


def _expected_entropy(length: int, alphabet: int) -> float:
    """Entropy a random string of this length over this alphabet is expected to show.

    log2(alphabet) less the Miller-Madow small-sample bias, and never above log2(length).
    """
    biased = math.log2(alphabet) - (alphabet - 1) / (2 * length * math.log(2))
    return min(biased, math.log2(length))


def _alphabet_size(token: str) -> int:
    """The smallest common alphabet a random token like this one would be drawn from."""
    if all(c in "0123456789abcdef" for c in token) or all(c in "0123456789ABCDEF" for c in token):
        return 16
    has_lower = any(c.islower() for c in token)
    has_upper = any(c.isupper() for c in token)
    size = 62 if has_lower and has_upper else 36
    return size + 2 if any(not c.isalnum() for c in token) else size


def _looks_random(token: str) -> bool:
    """Whether a token reads like random key material rather than words, paths or ids."""
    token = token.strip("./~-_")
    if len(token) < _MIN_TOKEN:
        return False
    if _UUID.fullmatch(token) or _DIGEST.fullmatch(token) or _is_version(token):
        return False
    alnum = sum(1 for c in token if c.isascii() and c.isalnum())
    if alnum < _MIN_TOKEN * 3 // 4 or not _switches_like_random(token):
        return False
    return _shannon(token) >= _MIN_ENTROPY_RATIO * _expected_entropy(
        len(token), _alphabet_size(token)
    )


def _high_entropy(text: str) -> bool:
    if any(_looks_random(m.group(0)) for m in _CANDIDATE.finditer(text)):
        return True
    # A single-line password full of symbols is cut into short pieces above; judge it whole.
    stripped = text.strip()
    if _MIN_TOKEN <= len(stripped) <= 256 and not any(c.isspace() for c in stripped):
        return "://" not in stripped and _looks_random_symbols(stripped)
    return False


def _looks_random_symbols(token: str) -> bool:
    """A whole value with punctuation mixed into random characters, like a generated password."""
    symbols = sum(1 for c in token if not c.isalnum())
    if symbols < 2 or _UUID.fullmatch(token) or _is_version(token):
        return False
    if token.startswith(("/", "./", "../", "~/")):
        return False
    if not _switches_like_random(token):
        return False
    return _shannon(token) >= _MIN_ENTROPY_RATIO * _expected_entropy(len(token), 94)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

_ABSENT = ValueSignals(
    looks_like_secret=False, secret_kinds=(), maskable=None, value_available=False
)


def _secret_kinds(text: str) -> set[str]:
    kinds: set[str] = set()
    private, public_spans = _pem_spans(text)
    if private:
        kinds.add("private_key")
    explained: list[tuple[int, int]] = list(public_spans)
    gcp = _GCP_TYPE.search(text)
    if gcp and '"private_key"' in text:
        kinds.add("gcp_service_account_key")
        explained.append(gcp.span())
    for shape in _SHAPES:
        for match in shape.pattern.finditer(text):
            if shape.accept is None or shape.accept(match):
                kinds.add(shape.kind)
                explained.append(match.span())
    rest = _blank(text, explained)
    for match in _ASSIGNMENT.finditer(rest):
        if _literal_assignment(match):
            kinds.add("secret_assignment")
            explained.append(match.span("value"))
    rest = _blank(text, explained)
    if _high_entropy(rest):
        kinds.add("high_entropy")
    return kinds


def value_signals(
    value: str | None, variable_type: str = "env_var", *, raw: bool = False
) -> ValueSignals:
    """Derive signals from a variable's value so the collector can drop the value.

    ``value`` is ``None`` for hidden variables (GitLab 17.4+ returns ``value: null``).
    ``variable_type`` is ``env_var`` or ``file``. File variables hold whole files (kubeconfig,
    JSON keys, ``.npmrc``); the scan reads every line of any value, and people paste files
    into ``env_var`` variables too, so both types get the same scan and the same masking rules.
    ``raw`` is the variable's ``raw`` flag: GitLab applies looser masking rules to raw values.
    """
    if value is None:
        return _ABSENT
    text = value if isinstance(value, str) else str(value)
    kinds = tuple(sorted(_secret_kinds(text)))
    return ValueSignals(
        looks_like_secret=bool(kinds),
        secret_kinds=kinds,
        maskable=_maskable(text, raw=raw),
        value_available=True,
    )


SECRET_KINDS: frozenset[str] = frozenset(
    {kind for _prefix, kind in _GITLAB_PREFIXES}
    | {shape.kind for shape in _SHAPES}
    | {"gcp_service_account_key", "private_key", "secret_assignment", "high_entropy"}
)
"""Every value of ``ValueSignals.secret_kinds``, for rule documentation and schema checks."""
