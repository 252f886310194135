"""ipykernel's completion reply turned into whole dotted tokens, as Backend.AI's runner answers."""

from __future__ import annotations

from bai_bridge.local.kernel import full_tokens


def test_the_dotted_expression_is_put_back_before_each_match() -> None:
    reply = {"matches": [".keys"], "cursor_start": 2, "cursor_end": 5}
    assert full_tokens("df.ke", 5, reply) == ["df.keys"]
    reply = {"matches": [".attr"], "cursor_start": 9, "cursor_end": 12}
    assert full_tokens("x = a.b.c.at", 12, reply) == ["a.b.c.attr"]


def test_plain_names_and_other_shapes_pass_through() -> None:
    assert full_tokens("rock", 4, {"matches": ["rocket"], "cursor_start": 0}) == ["rocket"]
    assert full_tokens("d['k", 4, {"matches": ["key'"], "cursor_start": 3}) == ["key'"]
    assert full_tokens("f().ba", 6, {"matches": [".bar"], "cursor_start": 3}) == ["bar"]
    # A reply without a usable cursor_start: the matches as they are.
    assert full_tokens("ab", 2, {"matches": ["abc"]}) == ["abc"]
    assert full_tokens("ab", 2, {"matches": ["abc"], "cursor_start": 9}) == ["abc"]
