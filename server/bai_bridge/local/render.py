"""Response bodies of the session endpoints, per API version (protocol doc §3.1, §3.6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bai_bridge.local import metrics
from bai_bridge.local.registry import CreateOutcome
from bai_bridge.local.session import Session
from bai_bridge.local.versioning import V9, ApiVersion

COMPLETION_RESULT_SINCE = ApiVersion.parse(V9)


def create_body(outcome: CreateOutcome, version: ApiVersion) -> dict[str, Any]:
    session = outcome.session
    ident: dict[str, Any] = (
        {"kernelId": session.name}
        if version.major <= 4
        else {"sessionId": str(session.id), "sessionName": session.name}
    )
    body: dict[str, Any] = {**ident, "status": str(outcome.status)}
    if outcome.created:
        body["servicePorts"] = []
    else:
        # Reuse answers kept the raw snake-case key; 24.09.14 added the camel-case one.
        body["service_ports"] = []
        if version.major >= 5:
            body["servicePorts"] = []
    body["created"] = outcome.created
    return body


def completion_body(version: ApiVersion, matches: list[str] | None) -> dict[str, Any]:
    """The reply to ``complete()``. ``matches`` None: the kernel runner answered nothing, as a
    cluster's Python runner does (its ``complete()`` is a TODO returning None): manager 24.09
    sent that as a null result, 25.10 and later (API v9) as null suggestions (protocol doc §12).
    26.x managers (API v9) pass on the agent's ``CodeCompletionResult`` (status, error,
    suggestions); older ones, the kernel runner's ``completions``."""
    if version >= COMPLETION_RESULT_SINCE:
        return {"result": {"status": "finished", "error": None, "suggestions": matches}}
    if matches is None:
        return {"result": None}
    return {"result": {"status": "finished", "completions": matches}}


def info_body(session: Session) -> dict[str, Any]:
    spec = session.spec
    now = datetime.now(UTC)
    kernel = session.kernel
    # A manager sends str(ResourceSlot): a repr of Decimal amounts, not JSON (doc §3.6).
    slots = {name: Decimal(str(amount)) for name, amount in spec.resources.items()}
    return {
        "domainName": spec.domain,
        "groupId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bai-bridge:group:{spec.group}")),
        "userId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bai-bridge:user:{spec.access_key}")),
        "lang": spec.image,
        "image": spec.image,
        "architecture": spec.architecture,
        "registry": "local",
        "tag": spec.tag,
        "containerId": str(kernel.pid) if kernel and kernel.pid else "None",
        "occupiedSlots": str(slots),
        "occupyingSlots": str(slots),
        "requestedSlots": str(slots),
        "resourceOpts": str(dict(spec.resource_opts)),
        "occupiedShares": str({}),
        "environ": str([f"{k}={v}" for k, v in spec.environ.items()]),
        "status": str(session.status),
        "statusInfo": str(session.status_info),
        "statusData": {},
        "age": int((now - session.created_at).total_seconds() * 1000),
        "creationTime": str(session.created_at),
        "terminationTime": str(session.terminated_at) if session.terminated_at else None,
        "numQueriesExecuted": session.num_queries,
        "lastStat": metrics.process_stats(kernel.pid if kernel else None) or None,
        "idleChecks": {},
    }
