"""dakora.cli — the ``dakora`` command."""
