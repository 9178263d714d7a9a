"""posture: audit a GitLab instance's security configuration against a baseline."""

__version__ = "0.1.0.dev0"
