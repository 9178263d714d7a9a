"""Offset and keyset pagination with GitLab's headers (doc/api/rest/_index.md, "Pagination").

Why exact: crawlers must follow `Link` rel="next" and cope with the missing `x-total` above
10,000 rows; the sandbox is where that code is proven, so the headers must be GitLab's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
COUNT_LIMIT = 10_000  # above this many rows GitLab stops counting


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


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(params.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def per_page(params: dict[str, str]) -> int:
    return min(_int_param(params, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)


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
    (GITLAB-API.md section 5). No next link means the walk is done.
    """
    size = per_page(params)
    chunk = rows[:size]
    headers: dict[str, str] = {}
    if len(rows) > size:
        last_id = ids[size - 1]
        descending = params.get("sort", "desc") == "desc"
        cursor = "id_before" if descending else "id_after"
        drop = {"id_after": "", "id_before": ""}
        base = RequestURL(
            url.scheme,
            url.host,
            url.path,
            urlencode([(k, v) for k, v in url.params() if k not in drop]),
        )
        headers["Link"] = f'<{base.with_params(per_page=size, **{cursor: last_id})}>; rel="next"'
    return chunk, headers
