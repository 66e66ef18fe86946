"""dakora CLI commands: git_cmds (filled in by its owner)."""
