"""tests/peer/list_sessions.py, run with backend.ai-client 26.9.6 (.venv-peer26)."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).parent.parent / "peer" / "list_sessions.py"), run_name="__main__")
