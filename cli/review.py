"""dakora CLI commands: review (filled in by its owner)."""
