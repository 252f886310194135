"""Write a run's figures as results.json, report.md and a PNG chart of the headline ratios."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.stats import Figure, Summary

MET_MARK = {True: "met", False: "**missed**", None: "—"}


def write_all(out_dir: Path, figures: list[Figure], meta: dict[str, Any]) -> None:
    """Each file is written to a temporary name first, so a crash never leaves half a file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "figures": [figure.as_dict() for figure in figures]}
    _write_atomic(out_dir / "results.json", json.dumps(payload, indent=2).encode())
    _write_atomic(out_dir / "report.md", markdown(figures, meta).encode())
    write_chart(out_dir / "ratios.png", figures)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def fmt_summary(summary: Summary | None, unit: str) -> str:
    if summary is None:
        return "—"
    return f"{fmt(summary.median)} [{fmt(summary.p95)}] {unit} (n={summary.n})"


def markdown(figures: list[Figure], meta: dict[str, Any]) -> str:
    lines = [
        "# bai-bridge benchmark",
        "",
        f"Run {meta.get('started', '?')}, mode {meta.get('mode', '?')}, "
        f"{meta.get('cpus', '?')} CPUs, {meta.get('duration_s', 0):.0f} s. "
        "Medians [p95] over repeated trials; each bridge figure sits next to its baseline "
        "measured in the same run; ratio = bridge median / baseline median.",
        "",
        "Sizes and trials: "
        + ", ".join(f"{k}={v}" for k, v in meta.get("config", {}).items() if k != "quick")
        + ".",
        "",
        "| row | figure | bridge | baseline | baseline figure | ratio | goal | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.row} | {f.name} | {fmt_summary(f.bridge, f.unit)} | {f.baseline_name or '—'} "
            f"| {fmt_summary(f.baseline, f.unit)} | {fmt(f.ratio)} | {f.goal or '—'} "
            f"| {MET_MARK[f.met]} |"
        )
    lines += wan_table(figures, meta)
    notes = [f"- **{f.row} {f.name}**: {f.note}" for f in figures if f.note]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def wan_table(figures: list[Figure], meta: dict[str, Any]) -> list[str]:
    """Rows w*: each action's WAN time in round trips, and the requests it took."""
    wan = [f for f in figures if f.round_trips is not None]
    if not wan:
        return []
    config = meta.get("config", {})
    one_way = config.get("wan_one_way_s", 0) * 1000
    profile = config.get("server_profile") or "default"
    lines = [
        "",
        "## Round trips over the emulated WAN",
        "",
        f"{one_way:g} ms each way ({2 * one_way:g} ms RTT) through the WAN emulator "
        f"(tests/wanproxy.py); w2 also capped at {config.get('wan_cap_mbit', '?')} Mbit/s each "
        f"way; local server profile: {profile}. Round trips = WAN median ÷ RTT (session start: "
        "after the kernel's own start; a save: after its deliberate coalescing wait). "
        "Requests and new connections per action: medians of the WAN path's trials as the "
        "proxy saw them (each one's list in the notes).",
        "",
        "| row | action | loopback | WAN | round trips | requests, connections | goal | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in wan:
        lines.append(
            f"| {f.row} | {f.name} | {fmt_summary(f.baseline, f.unit)} "
            f"| {fmt_summary(f.bridge, f.unit)} | {fmt(f.round_trips)} | {f.traffic or '—'} "
            f"| {f.goal or '—'} | {MET_MARK[f.met]} |"
        )
    return lines


def write_chart(path: Path, figures: list[Figure]) -> None:
    """Horizontal bars: how many times as fast as its same-run baseline the bridge is, with
    the goal marked; green where the figure's goal is met, red where missed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [f for f in figures if f.headline and f.speed is not None]
    fig, ax = plt.subplots(figsize=(11, 0.6 * max(len(shown), 1) + 1.6))
    labels = [f"{f.row} {f.name}\nvs {f.baseline_name}" for f in shown]
    speeds = [f.speed or 0.0 for f in shown]
    colours = ["tab:green" if f.met else "tab:red" if f.met is False else "tab:gray" for f in shown]
    ax.barh(labels, speeds, color=colours)
    for i, f in enumerate(shown):
        ax.annotate(f"×{speeds[i]:.2g}", (speeds[i], i), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)  # fmt: skip
        if f.goal_speed:
            ax.plot([f.goal_speed], [i], marker="|", markersize=22, color="black")
    ax.axvline(1.0, color="gray", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ax.set_xlabel("times as fast as the baseline (log scale; | marks the goal)")
    ax.tick_params(axis="y", labelsize=8)
    ax.invert_yaxis()
    ax.set_title("bai-bridge vs same-run baselines (median)")
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
