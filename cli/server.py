"""dakora CLI commands: server (filled in by its owner)."""
