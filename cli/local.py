"""dakora CLI commands: local (filled in by its owner)."""
