"""An unknown server profile reaches the person as a message, not as a silent default."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from .lsp_harness import Recorder, capabilities, start_client, stop_server, uri_of


async def test_an_unknown_profile_is_told_to_the_editor(tmp_path: Path) -> None:
    client = await start_client("cloud")
    try:
        recorder = Recorder(client)
        uri = uri_of(tmp_path)
        await client.initialize_session(
            types.InitializeParams(capabilities=capabilities(), root_uri=uri)
        )
        told = lambda: [m.message for m in client.messages if "server profile" in m.message]  # noqa: E731
        [message] = await recorder.wait_for("the message", told)
        assert "BAI_BRIDGE_PROFILE: unknown server profile 'cloud'" in message
        assert "(one of embedded, cluster)" in message
    finally:
        await stop_server(client)
        await client.stop()
