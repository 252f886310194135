"""The slot strings managers send in ``get_info`` (``str(ResourceSlot)``), read tolerantly."""

from __future__ import annotations

import pytest

from bai_bridge.api.models import SessionInfo, converter
from bai_bridge.api.slots import LiveUsage, SlotAllocation, parse_live_usage, parse_slots
from bai_bridge.lsp.resources import session_resources

GIB = 2**30

# As 24.09 managers send them: a repr of a mapping of Decimal amounts.
MANAGER_24 = (
    "{'cpu': Decimal('4'), 'mem': Decimal('17179869184'), 'cuda.device': Decimal('1'),"
    " 'cuda.shares': Decimal('0.5')}"
)


def test_a_managers_decimal_repr() -> None:
    assert parse_slots(MANAGER_24) == SlotAllocation(
        cpu=4.0, mem=16 * GIB, cuda_device=1.0, cuda_shares=0.5
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'cpu': '2', 'mem': '1073741824'}", SlotAllocation(cpu=2.0, mem=GIB)),
        ("{'cpu': 1, 'mem': '4g'}", SlotAllocation(cpu=1.0, mem=4 * GIB)),
        (
            "{'cpu': Decimal('1'), 'mem': Decimal('1073741824'), 'rocm.device': Decimal('1')}",
            SlotAllocation(cpu=1.0, mem=GIB),
        ),
        ({"cpu": "2", "mem": "2147483648"}, SlotAllocation(cpu=2.0, mem=2 * GIB)),
    ],
)
def test_other_forms(text: object, expected: SlotAllocation) -> None:
    assert parse_slots(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "None",
        "{}",
        "",
        "{'cpu': ",
        "[1, 2]",
        "{'cpu': __import__('os').system('true')}",
        "{'cpu': Decimal('NaN'), 'mem': Decimal('-1')}",
        "{'cpu': Decimal('1e999999')}",
        "{1: Decimal('1')}",
        "{'cpu': '" + "9" * 10_000 + "'}",
        42,
    ],
)
def test_malformed_is_unknown(text: object) -> None:
    assert parse_slots(text) is None


def test_last_stat_usage() -> None:
    stat = {
        "cpu_used": {"current": "12345.0", "capacity": None, "unit_hint": "msec"},
        "cpu_util": {"current": "87.5", "capacity": "400", "pct": "21.88", "unit_hint": "percent"},
        "mem": {"current": "536870912", "capacity": "1073741824", "unit_hint": "bytes"},
        "version": 2,
    }
    assert parse_live_usage(stat) == LiveUsage(cpu_used_ms=12345.0, cpu_util=87.5, mem=GIB // 2)
    assert parse_live_usage(None) is None
    assert parse_live_usage({"mem": "lots", "cpu_used": {"current": "x"}}) is None


def test_session_info_prefers_occupying_slots_and_tolerates_junk() -> None:
    info = converter.structure(
        {
            "occupiedSlots": "{'cpu': Decimal('1')}",
            "occupyingSlots": MANAGER_24,
            "requestedSlots": "{'cpu': Decimal('8')}",
            "lastStat": "not a mapping",
        },
        SessionInfo,
    )
    assert info.allocation() == parse_slots(MANAGER_24)
    assert info.usage() is None
    pending = converter.structure(
        {"occupyingSlots": "{}", "requestedSlots": "{'cpu': Decimal('8')}"}, SessionInfo
    )
    assert pending.allocation() == SlotAllocation(cpu=8.0)


def test_cpu_percent_from_two_samples() -> None:
    def info(cpu_ms: str) -> SessionInfo:
        body = {
            "occupiedSlots": "{'cpu': Decimal('2')}",
            "lastStat": {"cpu_used": {"current": cpu_ms}},
        }
        return converter.structure(body, SessionInfo)

    first, sample = session_resources(info("1000"), None, 100.0)
    assert first is not None
    assert (first.cpu, first.cpu_percent) == (2.0, None)
    second, _ = session_resources(info("16000"), sample, 115.0)  # 15 s of CPU in 15 s
    assert second is not None
    assert second.cpu_percent == 100.0
    restarted, _ = session_resources(info("10"), sample, 130.0)  # a new kernel counts afresh
    assert restarted is not None
    assert restarted.cpu_percent is None
