"""Errors a user can cause. The CLI turns every `ArenaError` into one line on stderr and exit code 2."""


class ArenaError(Exception):
    """Bad input from a user (config, move, checkpoint, shape): the message says what, where and what is valid."""


class IllegalActionError(ArenaError, ValueError):
    """An action that the rules do not allow in this state; `reason` says why in a few words."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message
