"""``POST /admin/gql``: the manager's GraphQL endpoint, for the session list.

Answered by graphql-core against `gql_schema` (a query for a field the manager lacks fails
validation, in GraphQL's own error shape, with status 200, as a 22.09+ manager answers). A
body that is not JSON, or not ``{"query": str, "variables": object|null}``, is refused before
GraphQL sees it, as ``invalid-api-params``. Clients before API v6 post to
``/admin/graphql`` and read the data itself; its errors come back as a ``graphql-error``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
from aiohttp import web
from graphql import GraphQLError, GraphQLSchema, graphql

from bai_bridge.local import gql_schema, problems
from bai_bridge.local.context import access_key, read_json, server
from bai_bridge.local.errors import InvalidParams
from bai_bridge.local.gql_query import order_sessions, parse_filter, parse_order, parse_status
from bai_bridge.local.registry import SessionRegistry
from bai_bridge.local.session import Session

__all__ = ["add_routes"]

SCHEMA = web.AppKey("bai_bridge_gql_schema", GraphQLSchema)


class GraphQLProblem(problems.Problem):
    status, slug, title = 400, "graphql-error", "GraphQL-generated error"


@attrs.frozen
class GqlRequest:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


def parse_request(body: Any) -> GqlRequest:
    """The manager's check of a GraphQL body (``check_api_params`` in ``api/admin.py``)."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise InvalidParams("Input validation error", {"query": "a string is required"})
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidParams("Input validation error", {"variables": "must be an object or null"})
    operation = body.get("operation_name", body.get("operationName"))
    if operation is not None and not isinstance(operation, str):
        raise InvalidParams("Input validation error", {"operation_name": "must be a string"})
    return GqlRequest(body["query"], variables, operation)


@attrs.frozen
class Root:
    """The query root: what one caller may see."""

    registry: SessionRegistry
    caller: str

    def compute_session_list(self, _info: Any, **args: Any) -> dict[str, Any]:
        limit, offset = args["limit"], args["offset"]
        if limit < 0 or offset < 0:
            raise GraphQLError("limit and offset must not be negative")
        # A user sees their own sessions; naming another owner works as `owner_access_key`
        # does everywhere on this server (its one keypair acts as a superadmin).
        owner = args.get("access_key") or self.caller
        sessions = list(_matching(self.registry.live(owner), args))
        ordered = order_sessions(sessions, parse_order(args.get("order")))
        page = ordered[offset : offset + limit]
        return {"items": [gql_schema.session_item(s) for s in page], "total_count": len(ordered)}


def _matching(sessions: Iterable[Session], args: dict[str, Any]) -> Iterable[Session]:
    statuses = parse_status(args.get("status"))
    keep = parse_filter(args.get("filter"))
    domain, group = args.get("domain_name"), args.get("group_id")
    for session in sessions:
        spec = session.spec
        if statuses is not None and str(session.status) not in statuses:
            continue
        if domain is not None and spec.domain != domain:
            continue
        if group is not None and group not in (str(gql_schema.group_id(spec.group)), spec.group):
            continue
        if keep(session):
            yield session


async def _execute(request: web.Request) -> dict[str, Any]:
    parsed = parse_request(await read_json(request))
    root = Root(server(request).registry, access_key(request))
    result = await graphql(
        request.app[SCHEMA],
        parsed.query,
        root_value=root,
        variable_values=parsed.variables,
        operation_name=parsed.operation_name,
    )
    return dict(result.formatted)


async def handle_gql(request: web.Request) -> web.Response:
    return web.json_response(await _execute(request))


async def handle_legacy_graphql(request: web.Request) -> web.Response:
    """Before API v6: the data alone, or a graphql-error problem."""
    formatted = await _execute(request)
    if formatted.get("errors"):
        raise GraphQLProblem(data=formatted["errors"])
    return web.json_response(formatted["data"])


def add_routes(app: web.Application) -> None:
    app[SCHEMA] = gql_schema.build()
    app.router.add_post("/admin/gql", handle_gql)
    app.router.add_post("/admin/graphql", handle_legacy_graphql)
