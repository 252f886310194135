"""Backend.AI compute-session API client."""
