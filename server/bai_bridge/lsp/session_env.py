"""The session's Python environment, as one silent query at attach learns it.

`Environment` is what the kernel side (``session_env_probe.py``) answers: Python version,
``sys.path``, the work dir, installed distributions and every importable top-level name
outside the standard library with the distribution that owns it. Answers are kept on disk per
session (`EnvironmentStore`), so attaching again to the same session asks nothing.
Knows nothing of LSP.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, override

from bai_bridge.api import Kernel

from .mirror import parse_reply
from .silent_query import silent_stdout

__all__ = ["Distribution", "Environment", "EnvironmentStore", "ask", "query_code"]

log = logging.getLogger(__name__)

QUERY_TIMEOUT = 60.0  # a pack of a large package takes the kernel a few seconds
MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(-stubs)?$", re.ASCII)
KEPT_ANSWERS = 64  # environment answers kept on disk (one per session attached to)


@attrs.frozen
class Distribution:
    name: str
    version: str
    top_level: list[str] = attrs.Factory(list)
    typed: bool = False
    editable: bool = False


@attrs.frozen
class Environment:
    python: str
    platform: str
    work_dir: str
    sys_path: list[str]
    distributions: list[Distribution]
    modules: dict[str, str]  # top-level name -> owning distribution ("" for none)
    stamps: dict[str, str] = attrs.Factory(dict)  # where an unowned module lives, and when
    truncated: bool = False

    def distribution(self, name: str) -> Distribution | None:
        for dist in self.distributions:
            if dist.name == name:
                return dist
        return None

    def package_key(self, module: str) -> str | None:
        """What names the cached sources of ``module`` (and its stubs): the distribution and
        version that own them, or, for a module no distribution owns (or an editable one),
        where it lives and when it changed. None: the session cannot import it."""
        if module not in self.modules:
            return None
        parts = [module]
        for name in (module, f"{module}-stubs"):
            owner = self.modules.get(name)
            if owner is None:
                continue
            dist = self.distribution(owner) if owner else None
            if dist is not None:
                parts.append(f"{dist.name}=={dist.version}")
            if dist is None or dist.editable:
                parts.append(self.stamps.get(name, "?"))
        return "|".join(parts)


def _converter() -> Converter:
    converter = Converter()
    for cls in (Distribution, Environment):
        renames = {
            f.name: override(rename=_camel(f.name)) for f in attrs.fields(cls) if "_" in f.name
        }
        hook = make_dict_structure_fn(cls, converter, **renames)  # type: ignore[arg-type]
        converter.register_structure_hook(cls, hook)
    return converter


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


CONVERTER = _converter()


def query_code(request: dict[str, Any]) -> str:
    """Query code running the environment probe with ``request``, without defining a name in
    the user's namespace (a statement whose value is None: ``_`` and ``Out`` stay)."""
    here = resources.files(__package__)
    source = here.joinpath("session_env_probe.py").read_text()
    helpers = here.joinpath("namespace_probe.py").read_text()
    payload = json.dumps(request)
    return (
        f"exec({source!r}, {{'__name__': '__bai_bridge_env__', 'REQUEST': "
        f"__import__('json').loads({payload!r}), 'USER_NS': globals(), 'HELPERS': {helpers!r}}})\n"
    )


async def ask(kernel: Kernel, request: dict[str, Any]) -> dict[str, Any]:
    """The probe's reply to ``request``; raises RuntimeError saying why there is none."""
    reply = parse_reply(await silent_stdout(kernel, query_code(request), QUERY_TIMEOUT))
    if reply is None:
        raise RuntimeError("the session gave no answer (not a Python kernel?)")
    if "error" in reply:
        raise RuntimeError(f"the session could not answer: {reply['error']}")
    return reply


def parse_environment(raw: dict[str, Any]) -> Environment:
    env = CONVERTER.structure(raw, Environment)
    bad = [m for m in env.modules if not MODULE_NAME.match(m)]
    if bad:  # never a path: each name becomes a folder of the cache
        env = attrs.evolve(env, modules={m: d for m, d in env.modules.items() if m not in bad})
    return env


class EnvironmentStore:
    """Environment answers on disk, one per session (endpoint and session id)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, endpoint: str, session_id: str) -> Path:
        digest = hashlib.sha256(f"{endpoint}\n{session_id}".encode()).hexdigest()[:24]
        return self.root / f"{digest}.json"

    def load(self, endpoint: str, session_id: str) -> Environment | None:
        try:
            raw = json.loads(self._file(endpoint, session_id).read_text())
            return parse_environment(raw)
        except FileNotFoundError:
            return None
        except Exception as e:
            log.info("ignoring a stored session environment: %s", e)
            return None

    def save(self, endpoint: str, session_id: str, raw: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self._file(endpoint, session_id)
        fd, tmp = tempfile.mkstemp(prefix=".env-", dir=self.root)
        with os.fdopen(fd, "w") as f:
            json.dump(raw, f)
        os.replace(tmp, target)
        kept = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEPT_ANSWERS:]:
            old.unlink(missing_ok=True)
