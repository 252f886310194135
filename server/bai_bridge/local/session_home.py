"""The session's home: its work folder, as ``/home/work`` is a Backend.AI session's HOME.

Showing the work folder at ``/home/work`` itself would take a private mount namespace, which a
person's machine does not reliably allow: ``/home/work`` does not exist and only root can
create it (so ``/home`` would need a tmpfs over it, with every entry bound back); unprivileged
user namespaces are refused by default on Ubuntu 24.04 (AppArmor) and absent on macOS; where
they work, the shell runs as ``root`` over files owned by ``nobody`` and sudo breaks. So the
path stays the host's, and what a session's code expects of its home holds instead: HOME is
the work folder (``~``, ``cd`` and ``expanduser`` lead there, the prompt shows ``~``), while the
person's caches, settings and user packages stay where they are (a model is not downloaded
again, nor a font cache rebuilt, for each session).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

# Where tools look for what the person already has: these follow their real home unless set.
_KEPT = {
    "XDG_CACHE_HOME": ".cache",
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "PYTHONUSERBASE": ".local",
    "IPYTHONDIR": ".ipython",
    "ZDOTDIR": "",  # zsh reads the person's own settings (no new-user menu in the work folder)
}


def person_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def home_environment(env: Mapping[str, str], work_dir: Path) -> dict[str, str]:
    """``env`` with HOME at ``work_dir`` and the person's own places kept where they are."""
    home = person_home(env)
    kept = {name: str(home / place) for name, place in _KEPT.items()}
    return {**kept, **env, "HOME": str(work_dir)}


def bash_rc(person: Path, work_dir: Path) -> str:
    """An rc file for the session's bash: the person's own ``~/.bashrc`` read with their own
    HOME (what it sources is found), then HOME is the work folder and the shell starts there."""
    real, work = shlex.quote(str(person)), shlex.quote(str(work_dir))
    return (
        "# The embedded session's shell (written by bai-bridge for this session).\n"
        f"HOME={real}\n"
        'HISTFILE="$HOME/.bash_history"\n'
        'if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'
        f"HOME={work}\n"
        'cd -- "$HOME" || true\n'
    )
