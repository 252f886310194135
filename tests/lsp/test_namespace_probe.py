"""The namespace probe in a real ipykernel of the embedded server, sent as query code through
the public API the way the mirror sends it: hostile objects run none of their code, the reply
stays bounded in size and time, the user's namespace and ``_`` are left as they were, and a
second snapshot carries only what changed."""

from __future__ import annotations

import json
import time
from typing import Any

from bai_bridge.api import Kernel
from bai_bridge.api.models import Stdout
from bai_bridge.lsp.mirror import BUDGET, MAX_BYTES, MAX_WIRE, NamespaceMirror, parse_reply
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.tasks import BackgroundTasks

HOSTILE = '''
import time, itertools
import numpy as np
import pandas as pd
touched = []  # every hostile hook appends here when it runs

class LoudRepr:
    def __repr__(self):
        touched.append("repr"); raise RuntimeError("no repr")

class SlowRepr:
    def __repr__(self):
        touched.append("slow repr"); time.sleep(30); return "late"

class Props:
    level = 3
    def method(self, x: int) -> int:
        """Doubles x."""
        return 2 * x
    @property
    def sleepy(self):
        touched.append("sleepy"); time.sleep(30)
    @property
    def broken(self):
        touched.append("broken"); raise ValueError("nope")

class Lazy:
    def __getattr__(self, name):
        touched.append("getattr " + name); return Lazy()
    def __dir__(self):
        touched.append("dir"); time.sleep(30); return []
    @property
    def __class__(self):
        touched.append("__class__"); return int
    def __len__(self):
        touched.append("len"); return 1

def scale(values: list, factor: float = 2.0) -> list:
    """Multiply every value by factor.

    More words."""
    return [v * factor for v in values]

loud, slow, props, lazy = LoudRepr(), SlowRepr(), Props(), Lazy()
props.mine = "own"
numbers = (n for n in itertools.count())
big = np.zeros((2000, 3000))
tiny = np.arange(3)
boxed = np.array([loud, slow], dtype=object)  # its repr would call theirs
frame = pd.DataFrame({"price": [1.5, 2.5], "qty": [3, 4]})
small = [1, 2, 3]
text = "x" * 100000
pair = (text, {"k": text}, (1,), set(), {2.5: None})
giant = 7 ** 100000
'''


async def run_text(kernel: Kernel, code: str) -> str:
    out = []
    async for result in kernel.run(code):
        out.extend(item.text for item in result.console if isinstance(item, Stdout))
    return "".join(out)


async def user_view(kernel: Kernel) -> Any:
    """What the user sees of their namespace: its public names, ``_``, ``_i``, ``_ii``."""
    code = (
        "print(__import__('json').dumps([sorted(k for k in globals() if not k.startswith('_')),"
        " repr(_), _i, _ii]))"
    )
    return json.loads(await run_text(kernel, code))


async def test_a_hostile_namespace_is_described_without_running_its_code(
    sessions: SessionManager,
) -> None:
    kernel = await sessions.kernel()
    await run_text(kernel, HOSTILE)
    await run_text(kernel, "6 * 7")  # `_` is 42 now
    mirror = NamespaceMirror(sessions, BackgroundTasks())
    for _ in range(2):
        await user_view(kernel)
    before = await user_view(kernel)  # `_i` and `_ii` are this same code now

    started = time.monotonic()
    await mirror.refresh()
    elapsed = time.monotonic() - started
    assert mirror.generation is not None
    e = mirror.entries
    assert await user_view(kernel) == before  # the probe left no name, `_` nor `_i` behind
    assert json.loads(await run_text(kernel, "print(__import__('json').dumps(touched))")) == []
    assert elapsed < 10  # nothing hung (three hooks above would sleep 30 s each)

    assert (e["loud"].kind, e["loud"].type, e["loud"].repr) == ("instance", "LoudRepr", None)
    assert e["lazy"].type == "Lazy"
    assert e["props"].attrs == {"mine": "v", "level": "v", "method": "f", "sleepy": "p",
                                "broken": "p"}  # fmt: skip
    assert e["numbers"].type == "generator"
    assert (e["big"].shape, e["big"].dtype, e["big"].len) == ([2000, 3000], "float64", 2000)
    assert e["big"].repr is None  # never materialized
    assert (e["tiny"].repr, e["boxed"].repr, e["boxed"].shape) == ("array([0, 1, 2])", None, [2])
    assert (e["frame"].shape, e["frame"].columns) == ([2, 2], ["price", "qty"])
    assert (e["small"].repr, e["small"].len) == ("[1, 2, 3]", 3)
    assert e["text"].len == 100000
    assert len(e["text"].repr or "") <= 130
    assert "bits" in (e["giant"].repr or "")
    assert e["pair"].repr is None  # a dict inside: not a scalar
    assert e["pair"].len == 5
    assert e["scale"].kind == "function"
    assert e["scale"].signature == "(values: list, factor: float = 2.0) -> list"
    assert e["scale"].doc == "Multiply every value by factor."
    assert (e["np"].kind, (e["np"].attrs or {}).get("zeros")) == ("module", "f")
    assert (e["Props"].kind, (e["Props"].attrs or {}).get("method")) == ("class", "f")

    method = await mirror.describe("props.method")
    assert method is not None
    assert (method.kind, method.signature, method.doc) == (
        "function",
        "(x: int) -> int",
        "Doubles x.",
    )
    for unreachable in ("props.sleepy", "props.broken", "lazy.anything", "lazy.x.y"):
        assert await mirror.describe(unreachable) is None
    assert (await mirror.describe("props.mine") or e["loud"]).repr == "'own'"
    assert json.loads(await run_text(kernel, "print(__import__('json').dumps(touched))")) == []


async def test_a_million_names_are_cut_to_a_bounded_snapshot_and_then_sent_as_changes(
    sessions: SessionManager,
) -> None:
    kernel = await sessions.kernel()
    await run_text(kernel, "first = 1\nglobals().update({f'n{i}': i for i in range(1_000_000)})")
    mirror = NamespaceMirror(sessions, BackgroundTasks())

    started = time.monotonic()
    text = await run_text(kernel, mirror_probe(mirror, None))
    elapsed = time.monotonic() - started
    reply = parse_reply(text)
    assert reply is not None
    assert reply["truncated"]
    assert reply["total"] > 1_000_000
    assert reply["seconds"] < BUDGET + 0.5
    assert len(text) <= MAX_WIRE + 200  # the marker and the print's line end
    assert elapsed < 10
    mirror.apply(reply)
    assert mirror.entries["first"].repr == "1"

    await run_text(kernel, "first = 'changed'\ndel n0")
    await mirror.refresh()
    assert mirror.entries["first"].repr == "'changed'"
    assert "n0" not in mirror.entries
    assert mirror.entries["n1"].repr == "1"


async def test_changes_only_after_the_first_snapshot_and_deeper_levels_on_demand(
    sessions: SessionManager,
) -> None:
    kernel = await sessions.kernel()
    await run_text(kernel, "import os\nkeep = [1]\nchange = 1\n")
    mirror = NamespaceMirror(sessions, BackgroundTasks())
    await mirror.refresh()
    await run_text(kernel, "change = 2\nkeep.append(2)\nadded = {'a': 1}\n")
    since = mirror.generation
    text = await run_text(kernel, mirror_probe(mirror, since))
    reply = parse_reply(text)
    assert reply is not None
    assert not reply["full"]
    assert set(reply["entries"]) == {"change", "keep", "added"}  # `os` did not change

    mirror.apply(reply)
    path = await mirror.describe("os.path")
    assert path is not None
    assert (path.kind, (path.attrs or {}).get("join")) == ("module", "f")
    probes = mirror.probes
    await mirror.describe("os.path")  # once per path: the second answer is the mirror's
    assert mirror.probes == probes
    assert await mirror.describe("keep.nothing_here") is None

    probes = mirror.probes
    await mirror.refresh()  # the probe is in the kernel now: only a call of it is sent
    assert mirror.probes == probes + 1
    await kernel.restart()  # behind the mirror's back: the kernel forgot the probe
    await mirror.refresh()
    assert mirror.probes == probes + 3  # a call that found nothing, then the probe itself
    assert "keep" not in mirror.entries
    assert set(mirror.entries) == set()


async def test_a_snapshot_leaves_the_execution_count_where_the_server_lets_it(
    sessions: SessionManager, profile: str
) -> None:
    kernel = await sessions.kernel()
    await run_text(kernel, "kept = 1")
    mirror = NamespaceMirror(sessions, BackgroundTasks())
    count = "print(get_ipython().execution_count, _i)"
    first = (await run_text(kernel, count)).split()
    await mirror.refresh()
    await mirror.refresh()
    assert mirror.entries["kept"].repr == "1"
    last = (await run_text(kernel, count)).split()
    # Ours runs the query silently; a cluster's manager (whose execute has no such option,
    # and ignores a query's options) runs it as a cell: the count moves, `_i` is put back.
    assert int(last[0]) - int(first[0]) == (1 if profile == "embedded" else 3)
    assert last[1:] == ["print(get_ipython().execution_count,", "_i)"]


def mirror_probe(mirror: NamespaceMirror, since: str | None) -> str:
    from bai_bridge.lsp.mirror import probe_code

    request = {
        "op": "snapshot", "since": since, "budget": BUDGET, "maxBytes": MAX_BYTES,
        "maxWire": MAX_WIRE,
    }  # fmt: skip
    return probe_code(mirror._source, request, cached=False)


async def test_a_kernel_whose_probe_says_nothing_is_not_asked_again(
    sessions: SessionManager,
) -> None:
    kernel = await sessions.kernel()
    await run_text(kernel, "import os, sys\nkept = 1\nsys.stdout = open(os.devnull, 'w')\n")
    mirror = NamespaceMirror(sessions, BackgroundTasks())
    await mirror.refresh()
    assert (mirror.probes, mirror.entries) == (1, {})
    await mirror.refresh()
    assert await mirror.describe("kept") is None
    assert mirror.probes == 1  # each try would be one more query in the person's kernel
