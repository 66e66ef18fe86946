"""dakora CLI commands: admin (filled in by its owner)."""
