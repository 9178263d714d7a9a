"""Small, named exceptions. Only ``posture.cli`` turns them into exit codes and messages.

Every message here must be safe to print: never a token, a CI variable value or a URL
with credentials in it. Each one is a single line a user can act on.
"""

from __future__ import annotations


class PostureError(Exception):
    """Base class for every error posture reports to the user."""

    exit_code = 2


class ConfigError(PostureError):
    """Bad command-line input, configuration file, or environment."""


class AuthenticationError(PostureError):
    """The token is missing, invalid, expired, or lacks a needed scope."""


class GitLabConnectionError(PostureError):
    """GitLab could not be reached: DNS, refused connection, TLS failure, timeout."""


class NotFoundError(PostureError):
    """A group or project named on the command line does not exist or is not visible."""


class SnapshotFormatError(PostureError):
    """A snapshot file is malformed, or written by a newer or unknown schema version."""


class OutputError(PostureError):
    """An output file could not be written."""


class IncompleteAuditError(PostureError):
    """Some sections could not be collected and the user asked for that to fail (--strict)."""

    exit_code = 3
