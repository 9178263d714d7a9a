"""Offset and keyset pagination with GitLab's headers (doc/api/rest/_index.md, "Pagination").

Why exact: crawlers must follow `Link` rel="next", cope with the missing `x-total` above
10,000 rows, switch to keyset before GitLab's offset limit (50,000 rows) refuses them, and
walk cursor-based keyset lists; the sandbox is where that code is proven, so headers, links
and refusals must be GitLab's.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
COUNT_LIMIT = 10_000  # above this many rows GitLab stops counting
#: GitLab's default `offset_pagination_limit` (doc/administration/instance_limits.md, "Max
#: offset allowed by the REST API for offset-based pagination"); 0 turns the check off.
OFFSET_LIMIT = 50_000
KEYSET_UNAVAILABLE = {"error": "Keyset pagination is not yet available for this type of request"}


@dataclass(frozen=True)
class RequestURL:
    """The parts of the request URL that a `Link` header repeats: scheme, host, path, query."""

    scheme: str
    host: str
    path: str
    query: str

    def params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def with_params(self, **changes: str | int) -> str:
        """The same URL with some query parameters replaced (others kept, in order)."""
        pairs = [(k, v) for k, v in self.params() if k not in changes]
        pairs += [(k, str(v)) for k, v in changes.items()]
        return f"{self.scheme}://{self.host}{self.path}?{urlencode(pairs)}"

    def without(self, *names: str) -> RequestURL:
        """The same URL without some query parameters (a spent cursor, for one)."""
        kept = urlencode([(k, v) for k, v in self.params() if k not in names])
        return RequestURL(self.scheme, self.host, self.path, kept)


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(params.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def per_page(params: dict[str, str]) -> int:
    return min(_int_param(params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)


def offset_limit_error(params: dict[str, str], limit: int, kind: str) -> dict[str, str] | None:
    """GitLab's refusal of an offset page ending past `limit` rows, or None when allowed.

    `API::Helpers::PaginationStrategies#offset_limit_exceeded?` compares ``page * per_page``
    (the request's values) with the limit, so with ``per_page=100`` page 500 (rows 49,901 to
    50,000) is served and page 501 is refused with 405 and this body.
    """
    if limit <= 0:
        return None
    page = _int_param(params, "page", 1)
    size = _int_param(params, "per_page", DEFAULT_PER_PAGE)
    if page * size <= limit:
        return None
    return {
        "error": f"Offset pagination has a maximum allowed offset of {limit} for requests "
        f"that return objects of type {kind}. Remaining records can be retrieved using "
        "keyset pagination."
    }


def offset_page(
    rows: Sequence[Any], params: dict[str, str], url: RequestURL
) -> tuple[Sequence[Any], dict[str, str]]:
    """Slice one page and build `x-*` and `Link` headers the way GitLab does."""
    size = per_page(params)
    page = _int_param(params, "page", 1)
    total = len(rows)
    start = (page - 1) * size
    chunk = rows[start : start + size]
    counted = total <= COUNT_LIMIT
    total_pages = max(1, -(-total // size))
    has_next = start + size < total
    headers = {
        "x-page": str(page),
        "x-per-page": str(size),
        "x-next-page": str(page + 1) if has_next else "",
        "x-prev-page": str(page - 1) if page > 1 else "",
    }
    links = []
    if page > 1:
        links.append(f'<{url.with_params(page=page - 1, per_page=size)}>; rel="prev"')
    if has_next:
        links.append(f'<{url.with_params(page=page + 1, per_page=size)}>; rel="next"')
    links.append(f'<{url.with_params(page=1, per_page=size)}>; rel="first"')
    if counted:
        headers["x-total"] = str(total)
        headers["x-total-pages"] = str(total_pages)
        links.append(f'<{url.with_params(page=total_pages, per_page=size)}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return chunk, headers


def keyset_page(
    rows: Sequence[Any], ids: Sequence[int], params: dict[str, str], url: RequestURL
) -> tuple[Sequence[Any], dict[str, str]]:
    """Keyset by id: rows are already filtered by `id_after`/`id_before` and ordered.

    The cursor lives only in `Link: <...id_after=N>; rel="next"`; no `x-*` headers
    (GITLAB-API.md section 5). No next link means the walk is done. `rows` may stop after
    one row more than a page: that row only says whether a next page exists.
    """
    size = per_page(params)
    chunk = rows[:size]
    headers: dict[str, str] = {}
    if len(rows) > size:
        last_id = ids[size - 1]
        descending = params.get("sort", "desc") == "desc"
        cursor = "id_before" if descending else "id_after"
        base = url.without("id_after", "id_before")
        headers["Link"] = f'<{base.with_params(per_page=size, **{cursor: last_id})}>; rel="next"'
    return chunk, headers


def encode_cursor(last_id: int) -> str:
    """An opaque cursor in GitLab's form: URL-safe Base64 of the order values and direction.

    (``{"id":"26","_kd":"n"}``: `Gitlab::Pagination::Keyset::Paginator`; the doc's example
    cursor for groups decodes to the same shape with a name.)
    """
    raw = json.dumps({"id": str(last_id), "_kd": "n"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii")


def decode_cursor(cursor: str) -> int | None:
    """The id a cursor continues after, or None when it is not one of ours."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        value = int(data["id"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeError):
        return None
    return value if value > 0 and data.get("_kd") == "n" else None


def cursor_page(
    rows: Sequence[Any], ids: Sequence[int], params: dict[str, str], url: RequestURL
) -> tuple[Sequence[Any], dict[str, str]]:
    """Cursor-based keyset (audit events): rows already follow the cursor, newest first.

    `Gitlab::Pagination::Keyset::CursorPager` sends `Link: <...cursor=...>; rel="next"` only
    when another page exists, and no `x-*` headers.
    """
    size = per_page(params)
    chunk = rows[:size]
    headers: dict[str, str] = {}
    if len(rows) > size:
        base = url.without("cursor")
        nxt = base.with_params(per_page=size, cursor=encode_cursor(ids[size - 1]))
        headers["Link"] = f'<{nxt}>; rel="next"'
    return chunk, headers
