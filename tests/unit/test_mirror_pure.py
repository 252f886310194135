"""The mirror's bookkeeping, and how hover and signature help read the buffer, without a
kernel."""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import pytest
from lsprotocol.types import MarkupContent, MarkupKind

from bai_bridge.lsp import namespace_probe
from bai_bridge.lsp.hover import dotted_at, markdown, markup
from bai_bridge.lsp.mirror import (
    BUDGET,
    FIRST_BUDGET,
    MARK,
    Entry,
    NamespaceMirror,
    parse_reply,
    summary,
)
from bai_bridge.lsp.signature_help import open_call, parameters
from bai_bridge.lsp.tasks import BackgroundTasks


class NoSessions:
    """Stands for a SessionManager that has no session: the mirror never asks a kernel."""

    kernel_if_ready = None
    busy = False


def mirror() -> NamespaceMirror:
    return NamespaceMirror(NoSessions(), None)  # type: ignore[arg-type]


def test_a_reply_is_the_json_after_the_marker_and_nothing_else() -> None:
    assert parse_reply(f"noise\n{MARK}" + '{"full":true}\nmore') == {"full": True}
    assert parse_reply("no marker here") is None
    assert parse_reply(f"{MARK}{{broken\n") is None
    assert parse_reply(f"{MARK}[1]\n") is None


def test_changes_apply_on_top_and_a_malformed_one_keeps_the_last_good(
    caplog: pytest.LogCaptureFixture,
) -> None:
    m = mirror()
    m.apply({"full": True, "generation": "g:1", "entries": {
        "a": {"kind": "instance", "type": "int", "repr": "1"},
        "df": {"kind": "instance", "type": "pandas.DataFrame", "shape": [3, 2],
               "columns": ["x", "y"], "attrs": {"x": "v", "head": "f"}},
    }})  # fmt: skip
    m.deeper["df.head"] = Entry("function", "method")
    m.apply({"full": False, "generation": "g:2", "removed": ["a"], "entries": {
        "df": {"kind": "instance", "type": "pandas.DataFrame", "shape": [4, 2]},
    }})  # fmt: skip
    assert set(m.entries) == {"df"}
    assert m.entries["df"].shape == [4, 2]
    assert "df.head" not in m.deeper  # its root changed: its deeper levels are stale
    with caplog.at_level(logging.WARNING):
        m.apply({"entries": {"df": {"kind": "instance"}}})  # no type: malformed
        m.apply({"entries": {"df": {"kind": "instance"}}})
    assert m.entries["df"].shape == [4, 2]
    assert m.generation == "g:2"
    assert len([r for r in caplog.records if "snapshot" in r.message]) == 1  # logged once


def test_summary_and_hover_text() -> None:
    frame = Entry("instance", "pandas.DataFrame", shape=[3, 2], columns=["x", "y"])
    assert summary(frame) == "DataFrame (3, 2)"
    assert summary(Entry("instance", "list", len=4, repr="[1, 2, 3, 4]")) == "list len 4"
    assert summary(Entry("function", "function", signature="(a, b=1)")) == "function (a, b=1)"
    text = markdown("df", frame)
    assert "df: DataFrame (3, 2)" in text
    assert "`x`, `y`" in text


def test_the_dotted_name_under_the_cursor() -> None:
    line = "print(df.shape[0], x)"
    assert dotted_at(line, 7) == ("df", 6, 8)
    assert dotted_at(line, 10) == ("df.shape", 6, 14)
    assert dotted_at(line, 19) == ("x", 19, 20)
    assert dotted_at(line, 5) is None  # on the parenthesis
    assert dotted_at(line, 0) == ("print", 0, 5)
    assert dotted_at("  ", 1) is None
    assert dotted_at("3.5", 1) is None


def test_markup_follows_what_the_client_takes() -> None:
    text = "```python\ndf: DataFrame (3, 2)\n```\n\ncolumns: `x`"
    assert markup(text, [MarkupKind.Markdown, MarkupKind.PlainText]) == MarkupContent(
        MarkupKind.Markdown, text
    )
    plain = "df: DataFrame (3, 2)\n\ncolumns: x"
    assert markup(text, [MarkupKind.PlainText]) == MarkupContent(MarkupKind.PlainText, plain)
    assert markup(text, None) == plain


def test_the_open_call_and_its_parameters() -> None:
    assert open_call("y = scale([1, 2], ") == ("scale", 1)
    assert open_call("np.linalg.norm(a, f(b, c), ") == ("np.linalg.norm", 2)
    assert open_call("x = (1, 2") is None
    assert open_call("df.head(") == ("df.head", 0)
    signature = "(values: list, factor: float = 2.0, *, d: dict[str, int] = {}) -> list"
    spans = [signature[a:b] for a, b in parameters(signature)]
    assert spans == ["values: list", "factor: float = 2.0", "*", "d: dict[str, int] = {}"]
    assert parameters("()") == []


async def test_completions_wait_for_a_snapshot_under_way_once() -> None:
    m = mirror()
    gate = asyncio.Event()
    m._refreshing = asyncio.ensure_future(gate.wait())  # a snapshot queued behind a long cell
    started = asyncio.get_running_loop().time()
    await m.settled(0.2)
    await m.settled(0.2)  # the same snapshot: not waited for again
    await m.settled(0.2)
    assert asyncio.get_running_loop().time() - started < 0.39
    gate.set()
    await m._refreshing


def test_a_compressed_reply_reads_as_the_plain_one() -> None:
    reply = {"full": True, "entries": {f"n{i}": {"kind": "instance"} for i in range(300)}}
    encoded = namespace_probe.encode(reply)
    assert encoded.startswith("z")  # long: compressed
    assert len(encoded) < len(json.dumps(reply)) / 4
    assert parse_reply(f"{MARK}{encoded}\n") == reply
    assert parse_reply(f"{MARK}z!!not base64\n") is None
    assert parse_reply(f"{MARK}z{base64.b64encode(b'not zlib').decode()}\n") is None


def test_instances_take_their_class_attributes_from_the_list_sent_once() -> None:
    m = mirror()
    m.apply({"full": True, "generation": "g:1", "classes": {"str@1": {"upper": "f", "x": "f"}},
             "entries": {"s": {"kind": "instance", "type": "str", "classAttrs": "str@1"},
                         "t": {"kind": "instance", "type": "str", "classAttrs": "str@1",
                               "attrs": {"x": "v"}}}})  # fmt: skip
    m.apply(
        {
            "full": False,
            "generation": "g:2",  # the list is not sent again
            "entries": {"u": {"kind": "instance", "type": "str", "classAttrs": "str@1"}},
        }
    )
    assert m.entries["s"].attrs == {"upper": "f", "x": "f"}
    assert m.entries["t"].attrs == {"upper": "f", "x": "v"}  # its own attribute wins
    assert m.entries["u"].attrs == {"upper": "f", "x": "f"}
    m.apply({"full": True, "generation": "h:1", "entries": {}})
    assert m.classes == {}


def test_a_snapshot_too_long_for_the_wire_is_cut_and_the_rest_follows() -> None:
    state = namespace_probe._State()
    ns = {f"name{i}": f"value {i} " * (i % 13) for i in range(1500)}  # under MAX_NAMES
    ns.update({f"gone{i}": i for i in range(50)})
    request = {"since": None, "budget": 10, "maxBytes": 1 << 30}
    reply = namespace_probe.snapshot(state, ns, request)
    text = namespace_probe.fitted(state, reply, 8 * 1024)
    assert len(text) <= 8 * 1024
    first = parse_reply(f"{MARK}{text}\n")
    assert first is not None
    assert first["truncated"]
    left_out = set(ns) - set(first["entries"])
    assert left_out
    for name in left_out & {f"gone{i}" for i in range(50)}:
        del ns[name]
    second = namespace_probe.snapshot(state, ns, {**request, "since": first["generation"]})
    assert set(second["entries"]) == left_out & set(ns)  # the rest, and nothing more
    assert set(second["removed"]) == left_out - set(ns)


def test_names_past_the_time_budget_come_with_kind_and_type_and_then_in_full() -> None:
    state = namespace_probe._State()
    ns: dict[str, object] = {f"f{i}": (lambda x, i=i: x + i) for i in range(50)}
    first = namespace_probe.snapshot(state, ns, {"since": None, "budget": 0})
    assert first["more"]
    assert set(first["entries"]) == set(ns)  # every name is there at once
    light = [e for e in first["entries"].values() if "signature" not in e]
    assert light
    assert light[0] == {"kind": "function", "type": "function"}
    second = namespace_probe.snapshot(state, ns, {"since": first["generation"], "budget": 10})
    assert not second["more"]
    assert {n for n, e in first["entries"].items() if e in light} <= set(second["entries"])
    assert all("signature" in e for e in second["entries"].values())
    assert second["removed"] == []
    third = namespace_probe.snapshot(state, ns, {"since": second["generation"], "budget": 10})
    assert third["entries"] == {}  # nothing changed since


async def test_a_snapshot_with_names_left_to_describe_is_followed_by_one_more() -> None:
    m = NamespaceMirror(NoSessions(), BackgroundTasks())  # type: ignore[arg-type]
    budgets: list[float] = []

    async def refresh(budget: float = BUDGET) -> bool:
        budgets.append(budget)
        return True  # always more: the follow-ups are still bounded

    m.refresh = refresh  # type: ignore[method-assign]
    m.request_refresh()
    assert m._refreshing is not None
    await m._refreshing
    assert budgets == [FIRST_BUDGET, BUDGET]


def test_names_the_bridge_has_are_not_sent_again_for_being_past_the_budget() -> None:
    state = namespace_probe._State()
    ns: dict[str, object] = {f"l{i}": [i] for i in range(50)}  # lists: described every time
    first = namespace_probe.snapshot(state, ns, {"since": None, "budget": 10})
    assert len(first["entries"]) == 50
    late = namespace_probe.snapshot(state, ns, {"since": first["generation"], "budget": 0})
    assert late["more"]
    assert late["entries"] == {}  # none looked at, none new: nothing to send
    ns["l3"] = [3, 3]
    after = namespace_probe.snapshot(state, ns, {"since": late["generation"], "budget": 10})
    assert set(after["entries"]) == {"l3"}  # the follow-up sends what changed, only that
