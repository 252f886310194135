"""Hover and signature help from jedi, for the session-only packages' cached sources: what the
namespace mirror cannot describe before their module was imported in the session.

Only answers whose definition lies in one of those packages' folders count: everything else is
the mirror's to describe (live types, columns), as before. Blocking: the completion engine
runs these in its jedi thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from .static_completion import jedi_script

__all__ = ["StaticHover", "StaticSignature", "jedi_hover", "jedi_signature"]

MAX_DOC = 2000  # characters of a docstring shown


@attrs.frozen
class StaticHover:
    name: str  # the dotted name, e.g. "torch.nn.Linear"
    kind: str  # jedi's type: "class", "function", "module", "instance", ...
    signature: str | None
    doc: str


@attrs.frozen
class StaticSignature:
    label: str  # "Linear(in_features, out_features, bias=True)"
    parameters: list[str]  # each parameter's text, as it appears in ``label``
    active: int | None
    doc: str


def _inside(module_path: Path | None, folders: Sequence[str]) -> bool:
    return module_path is not None and str(module_path).startswith(tuple(folders))


def jedi_hover(
    source: str, line: int, col: int, path: str | None, folders: Sequence[str]
) -> StaticHover | None:
    try:
        names = jedi_script(source, path, folders).infer(line + 1, col)
    except Exception:  # jedi raises a variety of errors on broken code; best effort
        return None
    for name in names:
        if _inside(name.module_path, folders):
            signatures = name.get_signatures()
            return StaticHover(
                name.full_name or name.name,
                name.type,
                signatures[0].to_string() if signatures else None,
                name.docstring(raw=True)[:MAX_DOC],
            )
    return None


def jedi_signature(
    source: str, line: int, col: int, path: str | None, folders: Sequence[str]
) -> StaticSignature | None:
    try:
        signatures = jedi_script(source, path, folders).get_signatures(line + 1, col)
    except Exception:
        return None
    for signature in signatures:
        if _inside(signature.module_path, folders):
            return StaticSignature(
                signature.to_string(),
                [p.to_string() for p in signature.params],
                signature.index,
                signature.docstring(raw=True)[:MAX_DOC],
            )
    return None
