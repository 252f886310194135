"""Commands on the session itself: interrupt, restart, destroy, info, logs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lsprotocol import types

from bai_bridge.api import Kernel
from bai_bridge.api.models import converter as api_converter

from . import protocol
from .commands import command
from .resources import session_resources
from .server import BridgeServer

__all__ = ["register"]

T = TypeVar("T")


async def _guard(ls: BridgeServer, action: str, work: Callable[[], Awaitable[T]]) -> T | None:
    try:
        return await work()
    except Exception as e:
        ls.fail(action, e)
        return None


def register(server: BridgeServer) -> None:
    @command(server, protocol.INTERRUPT)
    async def interrupt(ls: BridgeServer, _: None) -> None:
        async def work() -> None:
            await (await ls.session_manager()).call(lambda k: k.interrupt())

        await _guard(ls, "interrupting the session", work)

    @command(server, protocol.RESTART)
    async def restart(ls: BridgeServer, _: None) -> None:
        async def work() -> None:
            await (await ls.session_manager()).restart()

        await _guard(ls, "restarting the session", work)

    @command(server, protocol.DESTROY)
    async def destroy(ls: BridgeServer, _: None) -> None:
        async def work() -> bool:
            await (await ls.session_manager()).destroy()
            return True

        if await _guard(ls, "destroying the session", work):
            ls.tell("bai-bridge: the session was destroyed.", types.MessageType.Info)

    @command(server, protocol.SESSION_INFO)
    async def info(ls: BridgeServer, _: None) -> dict[str, Any] | None:
        async def work() -> dict[str, Any]:
            sessions = await ls.session_manager()
            found = await sessions.call(_info)
            return {"sessionName": sessions.session_name, **found}

        return await _guard(ls, "reading the session's info", work)

    @command(server, protocol.SESSION_LOGS)
    async def logs(ls: BridgeServer, _: None) -> str | None:
        async def work() -> str:
            return (await (await ls.session_manager()).call(lambda k: k.get_logs())).logs

        return await _guard(ls, "reading the session's logs", work)


async def _info(kernel: Kernel) -> dict[str, Any]:
    info = await kernel.get_info()
    raw: dict[str, Any] = api_converter.unstructure(info)
    found = {key: value for key, value in raw.items() if value is not None}
    # The slot strings read for a person (what the status item shows), beside the raw ones.
    resources, _ = session_resources(info, None, 0.0)
    return {"resources": resources, **found} if resources is not None else found
