"""Session-only packages without a session: what a buffer imports, the kernel side's packs of
awkward packages (huge, compiled only, namespace, symlinked), the cache's refusal of hostile
archives (nothing written outside it), and its LRU bound."""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bai_bridge.api import TransferError
from bai_bridge.lsp import session_env_probe as probe
from bai_bridge.lsp.package_cache import Limits, PackageCache
from bai_bridge.lsp.session_env import parse_environment
from bai_bridge.lsp.session_packages import imported_modules


def test_imported_modules_are_the_top_level_names() -> None:
    source = (
        "import os, torch.nn as nn\nfrom transformers.models import bert\n"
        "  import (alpha)\nfrom . import local\nx = 'import nothing'\n# import hidden\n"
    )
    assert imported_modules(source) == {"os", "torch", "transformers", "alpha"}


# -- the kernel side's packs --------------------------------------------------------------


@pytest.fixture
def session_path(tmp_path: Path) -> Iterator[Path]:
    """A folder put first on sys.path, as a session's site-packages would be."""
    site = tmp_path / "site"
    site.mkdir()
    sys.path.insert(0, str(site))
    try:
        yield site
    finally:
        sys.path.remove(str(site))


def pack(work: Path, modules: list[str], **bounds: int) -> dict[str, Any]:
    request = {
        "modules": modules,
        "workDir": str(work),
        "packs": ".bai-bridge/env-pack",
        "token": "t1",
        "maxFiles": bounds.get("max_files", 1000),
        "maxBytes": bounds.get("max_bytes", 10**7),
        "partBytes": bounds.get("part_bytes", 768 * 1024),
    }
    return probe.pack(request)


def install(tmp_path: Path, work: Path, reply: dict[str, Any], modules: list[str]) -> Path:
    cache = PackageCache(tmp_path / "cache", Limits())
    return cache.install("k", modules, [work / p for p in reply["parts"]])


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_huge_package_is_packed_within_its_bounds_stubs_and_shallow_files_first(
    tmp_path: Path, session_path: Path
) -> None:
    package = session_path / "hugepkg"
    for i in range(40):
        (package / f"d{i}").mkdir(parents=True)
        for j in range(25):
            (package / f"d{i}" / f"m{j}.py").write_text(f"VALUE_{j} = {j}\n")
    (package / "__init__.py").write_text("")
    (package / "__init__.pyi").write_text("def typed() -> int: ...\n")
    reply = pack(tmp_path, ["hugepkg"], max_files=30)
    assert reply["files"] == 30
    assert reply["truncated"]
    assert reply["notes"]["hugepkg"] == {"walkCut": True}  # walked at most 10x the bound
    got = files_under(install(tmp_path, tmp_path, reply, ["hugepkg"]))
    assert got[:2] == ["hugepkg/__init__.py", "hugepkg/__init__.pyi"]
    assert len(got) == 30


def test_many_parts_stay_under_the_part_size(tmp_path: Path, session_path: Path) -> None:
    package = session_path / "bulky"
    package.mkdir()
    for i in range(30):  # incompressible enough: ~3 MiB of sources in several parts
        (package / f"m{i}.py").write_text(repr(os.urandom(60_000)))
    reply = pack(tmp_path, ["bulky"], part_bytes=200 * 1024)
    assert len(reply["parts"]) > 3
    assert all((tmp_path / p).stat().st_size < 400 * 1024 for p in reply["parts"])
    assert len(files_under(install(tmp_path, tmp_path, reply, ["bulky"]))) == 30


def test_a_compiled_only_module_is_skipped_saying_why(tmp_path: Path, session_path: Path) -> None:
    (session_path / "fastthing.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    reply = pack(tmp_path, ["fastthing"])
    assert reply["parts"] == []
    assert reply["notes"]["fastthing"]["why"].startswith("compiled only")


def test_a_namespace_package_gathers_every_portion(tmp_path: Path, session_path: Path) -> None:
    other = tmp_path / "other-site"
    (session_path / "spread" / "one").mkdir(parents=True)
    (session_path / "spread" / "one" / "__init__.py").write_text("ONE = 1\n")
    (other / "spread" / "two").mkdir(parents=True)
    (other / "spread" / "two" / "__init__.py").write_text("TWO = 2\n")
    sys.path.append(str(other))
    try:
        reply = pack(tmp_path, ["spread"])
    finally:
        sys.path.remove(str(other))
    got = files_under(install(tmp_path, tmp_path, reply, ["spread"]))
    assert got == ["spread/one/__init__.py", "spread/two/__init__.py"]


def test_a_symlinked_site_is_read_and_symlinked_folders_inside_are_not_walked(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real-site"
    (real / "linked" / "inner").mkdir(parents=True)
    (real / "linked" / "__init__.py").write_text("X = 1\n")
    (real / "linked" / "loop").symlink_to(real / "linked")  # a loop, were it followed
    (real / "linked" / "inner" / "__init__.py").symlink_to(real / "linked" / "__init__.py")
    site = tmp_path / "site-link"
    site.symlink_to(real)
    sys.path.insert(0, str(site))
    try:
        reply = pack(tmp_path, ["linked"])
    finally:
        sys.path.remove(str(site))
    assert reply["notes"]["linked"] == {"symlinkedDirs": 1}
    got = files_under(install(tmp_path, tmp_path, reply, ["linked"]))
    assert got == ["linked/__init__.py", "linked/inner/__init__.py"]  # a linked file is read


def test_an_editable_install_outside_the_site_is_found_where_its_finder_says(
    tmp_path: Path, session_path: Path
) -> None:
    """As setuptools' editable installs do: a meta path finder maps the name to a folder
    nowhere on sys.path."""
    elsewhere = tmp_path / "checkout" / "src" / "editme"
    elsewhere.mkdir(parents=True)
    (elsewhere / "__init__.py").write_text("def edited() -> None: ...\n")

    class Finder:
        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> object:
            if name != "editme":
                return None
            return importlib.util.spec_from_file_location(
                name, elsewhere / "__init__.py", submodule_search_locations=[str(elsewhere)]
            )

    sys.meta_path.insert(0, Finder)  # type: ignore[arg-type]
    try:
        reply = pack(tmp_path, ["editme"])
    finally:
        sys.meta_path.remove(Finder)  # type: ignore[arg-type]
    assert files_under(install(tmp_path, tmp_path, reply, ["editme"])) == ["editme/__init__.py"]


def test_a_stubs_package_comes_with_its_package_and_first(
    tmp_path: Path, session_path: Path
) -> None:
    (session_path / "typedlib").mkdir()
    (session_path / "typedlib" / "__init__.py").write_text("def f(x): ...\n")
    (session_path / "typedlib-stubs").mkdir()
    (session_path / "typedlib-stubs" / "__init__.pyi").write_text("def f(x: int) -> str: ...\n")
    raw = {**probe.environment({}), "modules": {"typedlib": "", "typedlib-stubs": ""}}
    found = probe.environment({})
    assert found["modules"]["typedlib-stubs"] == ""
    assert found["stamps"]["typedlib-stubs"].startswith(str(session_path / "typedlib-stubs"))
    key = parse_environment(raw).package_key("typedlib")
    assert key is not None
    assert key.count("|") == 2  # the package's stamp and its stubs' stamp
    reply = pack(tmp_path, ["typedlib", "typedlib-stubs"], max_files=1)
    got = files_under(install(tmp_path, tmp_path, reply, ["typedlib", "typedlib-stubs"]))
    assert got == ["typedlib-stubs/__init__.pyi"]  # the bound leaves room for the stubs only


def test_the_environment_answer_names_modules_and_their_distributions() -> None:
    raw = probe.environment({})
    env = parse_environment(raw)
    assert env.modules["pytest"] == "pytest"
    assert "os" not in env.modules  # the standard library is never fetched
    assert env.package_key("pytest") == f"pytest|pytest=={env.distribution('pytest').version}"  # type: ignore[union-attr]
    assert env.package_key("not_there") is None


def test_module_names_that_are_not_identifiers_are_dropped() -> None:
    raw = {**probe.environment({}), "modules": {"../escape": "", "good": "", "ok-stubs": ""}}
    assert set(parse_environment(raw).modules) == {"good", "ok-stubs"}


# -- hostile archives --------------------------------------------------------------------


def archive(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            data = b"x = 1\n" if member.isfile() else None
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    "bad",
    [
        member("/etc/evil.py"),
        member("pkg/../../evil.py"),
        member("pkg/link.py", tarfile.SYMTYPE, "/etc/passwd"),
        member("pkg/inside.py", tarfile.SYMTYPE, "mod.py"),
        member("pkg/hard.py", tarfile.LNKTYPE, "pkg/mod.py"),
        member("pkg/dev.py", tarfile.CHRTYPE),
        member("pkg/native.so"),
        member("other/mod.py"),
        member("pkg/mod.py"),  # given twice
    ],
    ids=lambda m: m.name,
)
def test_a_hostile_member_refuses_the_whole_archive(tmp_path: Path, bad: tarfile.TarInfo) -> None:
    cache = PackageCache(tmp_path / "cache", Limits())
    bad_archive = archive(tmp_path / "bad.tar.gz", [member("pkg/mod.py"), bad])
    with pytest.raises(TransferError):
        cache.install("k", ["pkg"], [bad_archive])
    assert list((tmp_path / "cache" / "packages").iterdir()) == []  # no staging left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz", "cache"]


def test_an_archive_over_its_bounds_is_refused(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path / "cache", Limits(max_files=3))
    many = archive(tmp_path / "many.tar.gz", [member(f"pkg/m{i}.py") for i in range(4)])
    with pytest.raises(TransferError, match="bounds"):
        cache.install("k", ["pkg"], [many])


# -- the LRU bound -----------------------------------------------------------------------


def test_the_least_recently_used_package_goes_when_the_cache_is_over_its_cap(
    tmp_path: Path,
) -> None:
    size = len(b"x = 1\n") * 10
    cache = PackageCache(tmp_path / "cache", Limits(cache_bytes=size * 2))
    paths = {}
    for name in ("one", "two"):
        made = archive(tmp_path / f"{name}.tar.gz", [member(f"{name}/m{i}.py") for i in range(10)])
        paths[name] = cache.install(name, [name], [made])
    os.utime(paths["two"].with_suffix(".json"), (1, 1))  # "two" was used long ago
    assert cache.find("one") is not None  # "one" just now
    view = cache.view("workspace", paths.values())
    assert view is not None
    assert (view / "two").is_dir()
    three = archive(tmp_path / "three.tar.gz", [member(f"three/m{i}.py") for i in range(10)])
    cache.install("three", ["three"], [three])
    assert [e.key for e in cache.entries()] == ["one", "three"]
    assert sum(e.size for e in cache.entries()) <= size * 2
    assert not paths["two"].exists()
    assert not (view / "two").is_symlink()  # the view lost its link to the evicted package
    assert cache.clear() == 2
    assert cache.entries() == []
