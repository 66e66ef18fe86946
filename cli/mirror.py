"""dakora CLI commands: mirror (filled in by its owner)."""
