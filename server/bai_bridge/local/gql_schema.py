"""The part of the manager's GraphQL schema (``/admin/gql``) this server answers.

Types, field names and scalars follow the manager's Graphene schema (``ComputeSession``,
``ComputeContainer`` and ``ComputeSessionList`` in ``manager/models``), so the official
client's queries (``ComputeSession.paginated_list``) validate here as they do there; a field
the manager does not have is a GraphQL validation error, as it is there. Values come from
`session_item`: plain dicts, read by graphql-core's default resolver (a callable value is
called only when its field is asked for, so live statistics cost nothing unless wanted).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from graphql import GraphQLScalarType, GraphQLSchema, build_schema

from bai_bridge.local import metrics
from bai_bridge.local.placement import agent_id
from bai_bridge.local.session import Session

__all__ = ["build", "group_id", "session_item", "user_id"]

SDL = """
scalar DateTime
scalar JSONString
scalar UUID
scalar BigInt

interface Item { id: ID }

type ComputeContainer implements Item {
  id: ID
  idx: Int
  role: String
  hostname: String
  kernel_id: UUID
  cluster_idx: Int
  cluster_role: String
  cluster_hostname: String
  local_rank: Int
  session_id: UUID
  image: String
  architecture: String
  registry: String
  status: String
  status_changed: DateTime
  status_info: String
  status_data: JSONString
  created_at: DateTime
  terminated_at: DateTime
  starts_at: DateTime
  scheduled_at: DateTime
  abusing_report: JSONString
  agent: String
  agent_addr: String
  container_id: String
  resource_opts: JSONString
  occupied_slots: JSONString
  live_stat: JSONString
  last_stat: JSONString
  preopen_ports: [Int]
}

type ComputeSession implements Item {
  id: ID
  session_id: UUID
  main_kernel_id: UUID
  tag: String
  name: String
  type: String
  main_kernel_role: String
  priority: Int
  image: String
  architecture: String
  registry: String
  cluster_template: String
  cluster_mode: String
  cluster_size: Int
  domain_name: String
  group_name: String
  group_id: UUID
  user_email: String
  full_name: String
  user_id: UUID
  access_key: String
  created_user_email: String
  created_user_id: UUID
  status: String
  status_changed: DateTime
  status_info: String
  status_data: JSONString
  status_history: JSONString
  created_at: DateTime
  terminated_at: DateTime
  starts_at: DateTime
  scheduled_at: DateTime
  startup_command: String
  result: String
  commit_status: String
  abusing_reports: [JSONString]
  idle_checks: JSONString
  agent_ids: [String]
  agents: [String]
  resource_opts: JSONString
  scaling_group: String
  service_ports: JSONString
  mounts: [String]
  vfolder_mounts: [String]
  occupying_slots: JSONString
  occupied_slots: JSONString
  requested_slots: JSONString
  num_queries: BigInt
  containers: [ComputeContainer]
  dependencies: [ComputeSession]
  inference_metrics: JSONString
}

type ComputeSessionList {
  items: [ComputeSession]!
  total_count: Int!
}

type Query {
  compute_session_list(
    limit: Int!
    offset: Int!
    filter: String
    order: String
    domain_name: String
    group_id: String
    access_key: String
    status: String
  ): ComputeSessionList
}
"""


def _json_string(value: Any) -> str:
    # Graphene's JSONString: the value as JSON text inside the JSON answer.
    return json.dumps(value)


def _datetime(value: datetime) -> str:
    return value.isoformat()


_SERIALIZERS: dict[str, Callable[[Any], Any]] = {
    "JSONString": _json_string,
    "DateTime": _datetime,
    "UUID": str,
    "BigInt": int,
}


def build() -> GraphQLSchema:
    """The schema, with the scalars serialized as the manager's Graphene scalars are."""
    schema = build_schema(SDL)
    for name, serialize in _SERIALIZERS.items():
        scalar = schema.get_type(name)
        assert isinstance(scalar, GraphQLScalarType)  # declared so in SDL above
        setattr(scalar, "coerce_output_value", serialize)  # noqa: B010 (per instance)
    return schema


def group_id(group: str) -> uuid.UUID:
    """The project's id (as ``get_info`` reports it): stable for as long as its name."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bai-bridge:group:{group}")


def user_id(access_key: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bai-bridge:user:{access_key}")


def _slots(session: Session) -> dict[str, str]:
    # ResourceSlot.to_json(): amounts as decimal strings.
    return {name: str(amount) for name, amount in session.spec.resources.items()}


def _live_stat(session: Session) -> dict[str, Any] | None:
    kernel = session.kernel
    return metrics.process_stats(kernel.pid if kernel else None) or None


def _status_changed(session: Session) -> datetime:
    return datetime.fromisoformat(session.status_history[str(session.status)])


def session_item(session: Session) -> dict[str, Any]:
    """One ``ComputeSession`` as the manager's ``parse_row`` fills it."""
    spec, slots = session.spec, _slots(session)
    agent = agent_id()
    container = {
        "id": str(session.kernel_id),
        "kernel_id": session.kernel_id,
        "idx": 0,
        "role": "main",
        "hostname": "main1",
        "cluster_idx": 1,
        "cluster_role": "main",
        "cluster_hostname": "main1",
        "local_rank": 0,
        "session_id": session.id,
        "image": spec.image,
        "architecture": spec.architecture,
        "registry": "local",
        "status": str(session.status),
        "status_changed": _status_changed(session),
        "status_info": session.status_info,
        "status_data": {},
        "created_at": session.created_at,
        "terminated_at": session.terminated_at,
        "agent": agent,
        "container_id": str(session.kernel.pid) if session.kernel and session.kernel.pid else None,
        "resource_opts": dict(spec.resource_opts),
        "occupied_slots": slots,
        "live_stat": lambda _info: _live_stat(session),
        "last_stat": lambda _info: _live_stat(session),
        "preopen_ports": [],
    }
    return {
        "id": str(session.id),
        "session_id": session.id,
        "main_kernel_id": session.kernel_id,
        "tag": spec.tag,
        "name": session.name,
        "type": spec.type.upper(),
        "main_kernel_role": spec.type.upper(),
        "priority": 10,
        "image": spec.image,
        "architecture": spec.architecture,
        "registry": "local",
        "cluster_mode": "SINGLE_NODE",
        "cluster_size": 1,
        "domain_name": spec.domain,
        "group_name": spec.group,
        "group_id": group_id(spec.group),
        "user_id": user_id(spec.access_key),
        "access_key": spec.access_key,
        "status": str(session.status),
        "status_changed": _status_changed(session),
        "status_info": session.status_info,
        "status_data": {},
        "status_history": dict(session.status_history),
        "created_at": session.created_at,
        "terminated_at": session.terminated_at,
        "starts_at": None,
        "scheduled_at": _scheduled_at(session),
        "startup_command": spec.startup_command,
        "result": "UNDEFINED",
        "abusing_reports": [None],
        "idle_checks": {},
        "agent_ids": [agent],
        "agents": [agent],
        "resource_opts": {"main1": dict(spec.resource_opts)},
        "scaling_group": "default",
        "service_ports": [],
        "mounts": [mount.name for mount in spec.mounts],
        "vfolder_mounts": [mount.name for mount in spec.mounts],
        "occupying_slots": slots,
        "occupied_slots": slots,
        "requested_slots": slots,
        "num_queries": session.num_queries,
        "containers": [container],
        "dependencies": [],
    }


def _scheduled_at(session: Session) -> datetime | None:
    raw = session.status_history.get("SCHEDULED")
    return datetime.fromisoformat(raw) if raw else None
