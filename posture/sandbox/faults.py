"""Injected faults: answer chosen endpoints with an error, so reliability can be tested.

A fault names an endpoint template as the sandbox logs it (``GET /projects/:id/hooks``,
shell-style ``*`` allowed) and the status to answer with, every time or a number of times.
Bodies are GitLab's: ``{"message": "500 Internal Server Error"}`` and the like.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from http import HTTPStatus


@dataclass
class Fault:
    endpoint: str  # e.g. "GET /projects/:id/hooks" or "GET /projects/:id/*"
    status: int = 500
    times: int | None = None  # None: every matching request
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take(self, endpoint: str) -> bool:
        """True when this request should fail; counts down limited faults thread-safely."""
        if not fnmatch.fnmatchcase(endpoint, self.endpoint):
            return False
        with self._lock:
            if self.times is None:
                return True
            if self.times <= 0:
                return False
            self.times -= 1
            return True

    @property
    def body(self) -> dict[str, str]:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        return {"message": f"{self.status} {phrase}"}
