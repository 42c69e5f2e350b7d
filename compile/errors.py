"""The errors a user can fix: the CLI turns them into exit code 2 and a message naming what to change."""


class ConfigError(Exception):
    """A bad configuration: the CLI exits with code 2 and prints this message."""
