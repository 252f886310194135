"""List sessions the way the official client's `ComputeSession.paginated_list` does.

Run with an official client's Python (.venv-peer: backend.ai-client 23.9.10; .venv-peer26:
26.9.6, through tests/peer26/list_sessions.py); the endpoint and keys come from
BACKEND_ENDPOINT / BACKEND_ACCESS_KEY / BACKEND_SECRET_KEY. Creates two sessions, lists them
with the default fields, every field the client knows, and each argument, then prints one
JSON object of what it saw.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from ai.backend.client.output.fields import session_fields
from ai.backend.client.session import AsyncSession

IMAGE = "python:3.11-ubuntu20.04"


def page(result: Any) -> dict[str, Any]:
    return {"total_count": result.total_count, "items": list(result.items)}


async def main() -> None:
    every_field = list({id(f): f for f in session_fields.values()}.values())
    out: dict[str, Any] = {"fields": [f.field_ref for f in every_field]}
    async with AsyncSession() as api:
        listing = api.ComputeSession.paginated_list
        for name in ("peer-list-a", "peer-list-b"):
            await api.ComputeSession.get_or_create(
                IMAGE, name=name, resources={"cpu": 1, "mem": "1g"}
            )
        out["default"] = page(await listing())
        out["every_field"] = page(await listing(fields=every_field, page_size=1))
        out["second_page"] = page(await listing(page_size=1, page_offset=1))
        out["running"] = page(await listing(status="RUNNING"))
        out["terminated"] = page(await listing(status="TERMINATED"))
        out["filtered"] = page(await listing(filter='name == "peer-list-a"'))
        out["ordered"] = page(await listing(order="+name"))
        try:
            await listing(status="SLEEPING")
        except Exception as e:  # BackendAPIError carrying the GraphQL errors
            out["bad_status"] = {"error": type(e).__name__, "data": getattr(e, "data", None)}
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    asyncio.run(main())
