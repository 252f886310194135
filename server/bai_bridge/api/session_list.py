"""The caller's sessions, as the official client's ``ComputeSession.paginated_list`` asks.

One GraphQL request, ``compute_session_list`` at ``/admin/gql`` (``/admin/graphql`` before
API v6, which answers the data alone and takes no ``filter``/``order``), with the query text
and variables that client sends, so a manager that serves it serves this. GraphQL errors
(answered with status 200) raise `BackendAPIError` of type ``graphql-error``, as there.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from .errors import BackendAPIError
from .models import converter
from .slots import SlotAllocation, parse_slots

if TYPE_CHECKING:
    from .session import APISession

__all__ = ["SessionPage", "SessionSummary", "list_sessions"]

_FIELDS = (
    "id name image type status status_info status_changed created_at"
    " occupying_slots requested_slots"
)
_QUERY = """query($limit:Int!, $offset:Int!, {decls}) {{
  compute_session_list(
      limit:$limit, offset:$offset, {args}) {{
    items {{ {fields} }}
    total_count
  }}
}}"""
MAX_PAGE = 100  # what managers (and the official client) allow


@attrs.frozen
class SessionSummary:
    """One session of the list. Times are ISO 8601 text; slots as the manager sent them."""

    id: str
    name: str | None = None
    image: str | None = None
    type: str | None = None
    status: str | None = None
    status_info: str | None = None
    status_changed: str | None = None
    created_at: str | None = None
    occupying_slots: Any = None
    requested_slots: Any = None

    def created(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.created_at) if self.created_at else None
        except ValueError:
            return None

    def allocation(self) -> SlotAllocation | None:
        """What it holds; what it asked for while it holds nothing yet (pending)."""
        return parse_slots(self.occupying_slots) or parse_slots(self.requested_slots)


@attrs.frozen
class SessionPage:
    items: list[SessionSummary]
    total_count: int


async def list_sessions(
    api: APISession,
    *,
    status: str | None = None,
    access_key: str | None = None,
    filter: str | None = None,
    order: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SessionPage:
    """A page of sessions (newest first unless ``order`` says otherwise). ``status``: e.g.
    ``"RUNNING"`` or ``"PENDING,RUNNING"``; ``access_key``: another owner's (admins)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_PAGE}, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")
    variables: dict[str, Any] = {"status": status, "access_key": access_key}
    legacy = api.api_version.major < 6
    if legacy and (filter is not None or order is not None):
        raise ValueError("filter and order need API v6 or later")
    if not legacy:
        variables |= {"filter": filter, "order": order}
    body = {
        "query": _query(variables),
        "variables": {**variables, "limit": limit, "offset": offset},
    }
    answer = await api.fetch_json(
        "POST", "/admin/graphql" if legacy else "/admin/gql", json_body=body
    )
    data = answer if legacy else _data(answer)
    return converter.structure(data["compute_session_list"], SessionPage)


def _query(variables: dict[str, Any]) -> str:
    decls = ", ".join(f"${name}: String" for name in variables)
    args = ", ".join(f"{name}:${name}" for name in variables)
    return _QUERY.format(decls=decls, args=args, fields=_FIELDS)


def _data(answer: Any) -> Any:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors or not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
        first = errors[0].get("message") if errors and isinstance(errors[0], dict) else None
        raise BackendAPIError(
            400, "graphql-error", "GraphQL-generated error", first, errors, answer
        )
    return answer["data"]
