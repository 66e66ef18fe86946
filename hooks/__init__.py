"""dakora.hooks — the receive pipeline (checks new commits, applies refs atomically)."""
