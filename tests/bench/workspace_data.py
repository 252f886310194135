"""The files of the sync row: many small source-like files and one large binary."""

from __future__ import annotations

import random
from pathlib import Path

PER_DIR = 100
BIG_NAME = "data/big.bin"


def make_workspace(root: Path, small_files: int, big_mib: int, seed: int = 6) -> list[Path]:
    """Write the files under ``root``; return their paths (small ones first)."""
    rng = random.Random(seed)
    paths = []
    for i in range(small_files):
        path = root / f"pkg{i // PER_DIR:02d}" / f"mod{i % PER_DIR:03d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = f"# module {i}\n" + "".join(
            f"value_{j} = {rng.randrange(10**9)}\n" for j in range(rng.randrange(8, 160))
        )
        path.write_text(body)
        paths.append(path)
    if big_mib:
        big = root / BIG_NAME
        big.parent.mkdir(parents=True, exist_ok=True)
        with big.open("wb") as out:
            for _ in range(big_mib):
                out.write(rng.randbytes(1024 * 1024))
        paths.append(big)
    return paths


def total_bytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)
