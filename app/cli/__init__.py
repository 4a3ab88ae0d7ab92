"""The command line: ``python -m app`` (or ``stylecam``); the commands are registered in ``app.cli.main``."""
