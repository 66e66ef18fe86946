"""dakora.api — the FastAPI app, git smart HTTP mount and background workers."""
