"""Errors that reach a user: each carries an exit code and a message, never a traceback."""


class EmofaceError(Exception):
    """A problem the user can act on. `exit_code` is what the CLI returns."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(EmofaceError):
    """Bad input: a wrong path, an unreadable or truncated file, an invalid config."""

    exit_code = 2


class NoFaceError(EmofaceError):
    """The input was read but no usable face was found in it."""

    exit_code = 3


class ConfigError(InputError):
    """A config file failed validation; the message names the file and the key."""


class ModelError(EmofaceError):
    """A model file is missing, corrupt, unverified or refused."""

    exit_code = 4


# Documented in README ("Exit codes"); keep the two in step.
EXIT_CODES = {
    0: "success",
    1: "unexpected internal error (a bug: please report it)",
    2: "bad input or configuration",
    3: "no usable face found in the input",
    4: "model missing, corrupt or refused",
    5: "delivery or storage refused (outbox full, receiver rejected)",
}
