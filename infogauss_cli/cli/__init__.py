"""The command line: the only place typer is imported. Each command is a thin wrapper."""
