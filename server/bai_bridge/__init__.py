"""bai-bridge: edit locally, run in a Backend.AI compute session."""

__version__ = "0.1.0"
