"""Request parameters for write routes, read and coerced the way Grape does it.

Why: GitLab's REST API accepts the same parameter in the query string, a JSON body or a form
body, and Grape answers a bad one with `400 {"error": "<name> is invalid"}` before the endpoint
runs. python-gitlab sends JSON, curl users send forms and query strings; the sandbox must take
all three and fail the way GitLab fails. Messages name parameters, never their values, so a
secret sent in the wrong shape cannot come back in an error.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from posture.sandbox.routes import HttpError

_TRUE = frozenset({"true", "1", "t", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "f", "no", "n", "off"})
_BRACKETS = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def invalid(name: str) -> HttpError:
    return HttpError(400, {"error": f"{name} is invalid"})


def not_valid_value(name: str) -> HttpError:
    return HttpError(400, {"error": f"{name} does not have a valid value"})


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """A JSON object or a form body as a (possibly nested) dict; anything else is empty."""
    if not body:
        return {}
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind == "application/json" or (not kind and body.lstrip()[:1] == b"{"):
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            # The body is never echoed: it may carry a secret.
            raise HttpError(400, {"error": "The request body is not valid JSON"}) from None
        if not isinstance(data, dict):
            raise HttpError(400, {"error": "The request body must be a JSON object"})
        return data
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HttpError(400, {"error": "The request body is not valid UTF-8"}) from None
        return nest(parse_qsl(text, keep_blank_values=True))
    return {}


def nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Rack-style nesting: `a[]=1&a[]=2`, `filter[scope]=x`, `a[][k]=1&a[][k]=2`."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _BRACKETS.match(raw_key)
        if match is None:
            out[raw_key] = value
            continue
        name, rest = match.group(1), match.group(2)
        parts = re.findall(r"\[([^\[\]]*)\]", rest)
        _assign(out, name, parts, value)
    return out


def _assign(container: dict[str, Any], name: str, parts: list[str], value: str) -> None:
    if not parts:
        container[name] = value
        return
    head, tail = parts[0], parts[1:]
    if head == "":
        items = container.get(name)
        if not isinstance(items, list):
            items = []
            container[name] = items
        if not tail:
            items.append(value)
            return
        # `a[][k]=v`: a new hash starts when the last one already holds k (Rack's rule).
        last = items[-1] if items and isinstance(items[-1], dict) else None
        if last is None or _holds(last, tail):
            last = {}
            items.append(last)
        _assign(last, tail[0], tail[1:], value)
        return
    child = container.get(name)
    if not isinstance(child, dict):
        child = {}
        container[name] = child
    _assign(child, head, tail, value)


def _holds(item: dict[str, Any], path: list[str]) -> bool:
    key = path[0]
    if len(path) == 1 or key not in item:
        return key in item
    nested = item[key]
    return isinstance(nested, dict) and _holds(nested, path[1:])


def to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise invalid(name)


def to_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise invalid(name)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise invalid(name)


class Params:
    """Query parameters and body merged (the body wins), with Grape-like typed getters."""

    def __init__(self, query_pairs: list[tuple[str, str]], body: dict[str, Any]) -> None:
        self.values: dict[str, Any] = {**nest(query_pairs), **body}

    def has(self, name: str) -> bool:
        return name in self.values

    def given(self, *names: str) -> list[str]:
        return [n for n in names if n in self.values]

    def require(self, *names: str) -> None:
        """All missing names in one message, as Grape lists them."""
        missing = [n for n in names if n not in self.values or self.values[n] is None]
        if missing:
            raise HttpError(400, {"error": ", ".join(f"{n} is missing" for n in missing)})

    def at_least_one_of(self, names: tuple[str, ...]) -> None:
        if not any(n in self.values for n in names):
            listed = ", ".join(names)
            message = f"{listed} are missing, at least one parameter must be provided"
            raise HttpError(400, {"error": message})

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool | dict | list):
            raise invalid(name)
        return str(value)

    def flag(self, name: str) -> bool | None:
        value = self.values.get(name)
        return None if value is None else to_bool(name, value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        return None if value is None else to_int(name, value)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        if value not in allowed:
            raise not_valid_value(name)
        return value

    def int_choice(self, name: str, allowed: tuple[int, ...]) -> int | None:
        value = self.integer(name)
        if value is None:
            return None
        if value not in allowed:
            raise not_valid_value(name)
        return value

    def str_list(self, name: str) -> list[str] | None:
        """An array, `a[]=x` pairs, or a comma-separated string (CommaSeparatedToArray)."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return [str(v) for v in value]
        raise invalid(name)

    def int_list(self, name: str) -> list[int] | None:
        items = self.str_list(name) if isinstance(self.values.get(name), str) else None
        value = items if items is not None else self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise invalid(name)
        return [to_int(name, v) for v in value]

    def hash_list(self, name: str) -> list[dict[str, Any]] | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, dict):  # a form body with one numbered entry, e.g. a[0][k]=v
            value = list(value.values())
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(name)
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.values.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(name)
        return value
