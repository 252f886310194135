"""Packages only the session has, end to end over stdio on both server profiles: the session's
kernel gets a small pure-Python package on its PYTHONPATH that the language server's own
environment lacks; opening a buffer that imports it fetches its sources into the cache (a tmp
dir here), reported to the editor, and jedi completes its members before anything ran."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import (
    Recorder,
    _plain,
    command,
    complete,
    initialize,
    open_doc,
    start_client,
    stop_server,
    uri_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PACKAGE = "sessiononly_widgets"
SUB = '''"""Widgets only the session has."""


class NarrowWidget:
    """A widget of little width."""

    def stretch(self, factor: float) -> "NarrowWidget":
        return self


def named_helper(count: int, label: str = "x") -> str:
    return label * count
'''


USE = (
    f"import {PACKAGE}.sub\n{PACKAGE}.sub.Na\n{PACKAGE}.sub.na\n"
    f"{PACKAGE}.sub.NarrowWidget\n{PACKAGE}.sub.named_helper(3, "
)


def build_package(root: Path) -> Path:
    """``root/site/sessiononly_widgets`` with a sub-package and a data file left behind."""
    site = root / "site"
    package = site / PACKAGE
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = '1.0'\n")
    (package / "sub" / "__init__.py").write_text(SUB)
    (package / "sub" / "table.csv").write_text("a,b\n1,2\n")  # data: never fetched
    (package / "py.typed").write_text("")
    return site


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"session-packages-{profile}")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"package-cache-{profile}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return build_package(tmp_path_factory.mktemp(f"session-site-{profile}"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(profile: str, cache_dir: Path) -> AsyncIterator[LanguageClient]:
    lsp_client = await start_client(profile, {"BAI_BRIDGE_CACHE_DIR": str(cache_dir)})
    try:
        yield lsp_client
    finally:
        await stop_server(lsp_client)
        await lsp_client.stop()


class Reports:
    """`baiBridge/sessionEnvironment` notifications; each re-checks the bridge's waits."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.recorder: Recorder | None = None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def reports(client: LanguageClient) -> Reports:
    found = Reports()

    @client.feature(protocol.SESSION_ENVIRONMENT)
    def on_paths(_: LanguageClient, params: Any) -> None:
        found.seen.append(_plain(params))
        if found.recorder is not None:
            found.recorder.poke()

    return found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bridge(client: LanguageClient, workspace: Path, site: Path, reports: Reports) -> Recorder:
    recorder = await initialize(client, workspace, {"envs": {"PYTHONPATH": str(site)}})
    reports.recorder = recorder
    return recorder


async def test_the_language_server_cannot_import_the_package() -> None:
    import importlib.util

    assert importlib.util.find_spec(PACKAGE) is None


async def test_members_complete_before_anything_ran(
    client: LanguageClient, bridge: Recorder, reports: Reports, workspace: Path, cache_dir: Path
) -> None:
    uri = open_doc(client, workspace / "use.py", USE)
    report = await bridge.wait_for(
        "the package's sources in the cache",
        lambda: next((r for r in reports.seen if r["paths"]), None),
    )
    labels = [i.label for i in (await complete(client, uri, 1, len(PACKAGE) + 6)).items]
    assert "NarrowWidget" in labels
    labels = [i.label for i in (await complete(client, uri, 2, len(PACKAGE) + 6)).items]
    assert "named_helper" in labels
    assert bridge.outputs == []  # nothing ran: it is all static

    (package_dir,) = report["paths"]
    assert Path(package_dir).is_relative_to(cache_dir)
    assert files_under(Path(package_dir)) == [
        f"{PACKAGE}/__init__.py",
        f"{PACKAGE}/py.typed",
        f"{PACKAGE}/sub/__init__.py",
    ]
    mode = (Path(package_dir) / PACKAGE / "__init__.py").stat().st_mode
    assert mode & 0o222 == 0  # read-only


async def test_the_view_folder_is_reported_for_the_editors_extra_paths(
    bridge: Recorder, reports: Reports, cache_dir: Path
) -> None:
    report = next(r for r in reports.seen if r["paths"])
    view = Path(report["view"])
    assert view.is_relative_to(cache_dir)
    assert (view / PACKAGE / "sub" / "__init__.py").read_text() == SUB
    assert report["python"].count(".") == 2
    assert report["cacheRoot"] == str(cache_dir / "session-env")


async def test_clearing_the_cache_fetches_the_imports_again(
    client: LanguageClient, bridge: Recorder, reports: Reports, cache_dir: Path
) -> None:
    before = len(reports.seen)
    assert await command(client, protocol.CLEAR_PACKAGE_CACHE) == 1
    again = await bridge.wait_for(
        "the package fetched again",
        lambda: next((r for r in reports.seen[before:] if r["paths"]), None),
    )
    assert (Path(again["paths"][0]) / PACKAGE / "sub" / "__init__.py").read_text() == SUB


async def test_hover_and_signature_help_read_the_cached_sources(
    client: LanguageClient, bridge: Recorder, reports: Reports, workspace: Path
) -> None:
    uri = uri_of(workspace / "use.py")
    await bridge.wait_for("the package", lambda: any(r["paths"] for r in reports.seen))
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=3, character=len(PACKAGE) + 8),
        )
    )
    assert hover is not None
    assert isinstance(hover.contents, str)  # plain: the client names no markup format
    assert "class NarrowWidget" in hover.contents
    assert "A widget of little width." in hover.contents
    line = USE.split("\n")[4]
    help_ = await client.text_document_signature_help_async(
        types.SignatureHelpParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=4, character=len(line)),
        )
    )
    assert help_ is not None
    (signature,) = help_.signatures
    assert signature.label == 'named_helper(count: int, label: str="x") -> str'
    assert help_.active_parameter == 1
    start, end = signature.parameters[1].label  # type: ignore[index]
    assert signature.label[start:end] == 'label: str="x"'
