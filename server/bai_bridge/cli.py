"""Command line: `bai-bridge lsp` | `bai-bridge local-server`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bai_bridge import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bai-bridge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"bai-bridge {__version__}")
    parser.add_argument("--log-level", default="INFO", help="logging level (logs go to stderr)")
    commands = parser.add_subparsers(dest="command", required=True)

    lsp = commands.add_parser("lsp", help="run the language server (stdio by default)")
    lsp.add_argument("--tcp", metavar="HOST:PORT", help="serve LSP over TCP instead of stdio")
    _add_profile(lsp, "of the embedded server started when BACKEND_ENDPOINT is not set")

    local = commands.add_parser(
        "local-server", help="run the embedded Backend.AI-compatible session server"
    )
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=8081)
    local.add_argument("--data-dir", type=Path, default=None)
    _add_profile(local, "")
    return parser


def _add_profile(parser: argparse.ArgumentParser, which: str) -> None:
    parser.add_argument(
        "--profile",
        choices=["embedded", "cluster"],
        default=None,
        help=f"behaviour {which}: embedded (default; its fast paths) or cluster (as a "
        "Backend.AI 26.x cluster: complete() answers nothing, nothing runs beside a running "
        "cell, binary PTY frames); default from BAI_BRIDGE_PROFILE",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "local-server":
        from bai_bridge.local.serve import serve_forever

        return serve_forever(
            host=args.host, port=args.port, data_dir=args.data_dir, profile=args.profile
        )
    from bai_bridge.launch import run_language_server

    return run_language_server(tcp=args.tcp, profile=args.profile)
