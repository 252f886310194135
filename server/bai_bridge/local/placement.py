"""Where and when a session may run: this machine is the one agent, on the one host network,
and it starts every session at once.

A create request may name agents (``config.agentList``), a network (``config.attach_network``)
and an image architecture; each is checked against what this machine is, and refused as a
26.x manager refuses an object it does not have. What would need a scheduler (a start time,
sessions to wait for) or event delivery (a callback URL) is refused as invalid parameters.
"""

from __future__ import annotations

import platform
import socket

from bai_bridge.local.errors import InvalidParams, NoSuchObject
from bai_bridge.local.payloads import CreateRequest

# The official packages' own aliases (ai.backend.common.arch), so "arm64" names aarch64.
ARCH_ALIASES = {"arm64": "aarch64", "amd64": "x86_64", "x64": "x86_64", "x32": "x86", "i686": "x86"}


def machine_architecture() -> str:
    machine = platform.machine().lower().strip()
    return ARCH_ALIASES.get(machine, machine)


def agent_id() -> str:
    """This machine's agent id, as a Backend.AI agent outside a cloud names itself."""
    return f"i-{socket.gethostname()}"


def check_placement(request: CreateRequest) -> str:
    """Refuse agents, networks and architectures this machine is not; the architecture."""
    check_schedule(request)
    config = request.config
    if config.agent_list:
        others = [a for a in config.agent_list if a != agent_id()]
        if others:
            raise NoSuchObject(
                "agent", f"No such agent: {', '.join(others)} (this server is {agent_id()})"
            )
    if config.attach_network is not None:
        raise NoSuchObject(
            "network",
            f"No such network: {config.attach_network} (sessions here share the host's network)",
        )
    machine = machine_architecture()
    wanted = ARCH_ALIASES.get(request.architecture or machine, request.architecture or machine)
    if wanted != machine:
        message = f"{request.image} is not available for {wanted} (this is {machine})"
        raise NoSuchObject("environment image", message)
    return machine


def check_schedule(request: CreateRequest) -> None:
    wanted = {
        "starts_at": request.starts_at,
        "dependencies": request.dependencies,
        "callback_url": request.callback_url,
    }
    named = [field for field, value in wanted.items() if value]
    if named:
        raise InvalidParams(
            "This server starts every session at once and sends no callbacks: "
            + ", ".join(named)
            + " cannot be honoured.",
            {field: "not supported here" for field in named},
        )
