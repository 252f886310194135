"""Upload files with the official backend.ai-client (23.9.10), as its users do.

Run with .venv-peer/bin/python; argv[1] is a JSON object: endpoint, access_key, secret_key,
image, name (of the sessions, one a trial), basedir, files (paths relative to basedir), batch
(files per request: the server's limit), trials. Prints one JSON line: {"seconds": [one per trial]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import types
from typing import Any


def restore_netloc() -> None:
    """23.9.10 reads ``URL._val.netloc``, which the yarl in its environment no longer has;
    hand it the same netloc (the signing algorithm stays the official one)."""
    import ai.backend.client.request as request

    original = request.generate_signature

    def generate_signature(*, endpoint: Any, **kwargs: Any) -> Any:
        shim = types.SimpleNamespace(_val=types.SimpleNamespace(netloc=endpoint.raw_authority))
        return original(endpoint=shim, **kwargs)

    request.generate_signature = generate_signature


async def main(args: dict[str, Any]) -> dict[str, Any]:
    from ai.backend.client.config import APIConfig
    from ai.backend.client.session import AsyncSession

    restore_netloc()
    config = APIConfig(
        endpoint=args["endpoint"], endpoint_type="api",
        access_key=args["access_key"], secret_key=args["secret_key"],
    )  # fmt: skip
    files, batch = args["files"], args["batch"]
    seconds = []
    async with AsyncSession(config=config) as api:
        # A fresh session each trial, as the bridge's first sync gets: uploading again into
        # folders that exist already is a different (faster) thing to measure.
        for trial in range(args["trials"]):
            name = f"{args['name']}-{trial}"
            session = await api.ComputeSession.get_or_create(args["image"], name=name)
            try:
                started = time.perf_counter()
                for i in range(0, len(files), batch):
                    await session.upload(files[i : i + batch], basedir=args["basedir"])
                seconds.append(time.perf_counter() - started)
            finally:
                await session.destroy()
    return {"seconds": seconds}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
