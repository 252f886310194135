"""A bare aiohttp multipart receiver: the raw-upload baseline's server side.

Run as a script: prints its port, then streams each part of POST /upload to a file under
argv[1] (relative names only), answering 204.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import BodyPartReader, web

CHUNK = 1 << 16


async def upload(request: web.Request) -> web.Response:
    root: Path = request.app["root"]
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.filename:
            raise web.HTTPBadRequest(text="expected file parts")
        target = (root / part.filename).resolve()
        if not target.is_relative_to(root):
            raise web.HTTPBadRequest(text="path outside the upload root")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:  # a baseline: blocking writes, as the simplest server
            while chunk := await part.read_chunk(CHUNK):
                out.write(chunk)
    return web.Response(status=204)


async def start(root: Path) -> None:
    app = web.Application(client_max_size=0)
    app["root"] = root
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(port, flush=True)


def main() -> None:
    import asyncio

    root = Path(sys.argv[1]).resolve()
    root.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(start(root))
    loop.run_forever()


if __name__ == "__main__":
    main()
