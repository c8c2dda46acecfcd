"""The one error type the CLI turns into a one-line message plus what to do next."""


class NebulaError(Exception):
    """A user-facing error: `message` says what is wrong (naming the file, record or field), `hint` what to do.

    The CLI prints `error: <message>` and, on the next line, `hint: <hint>`, and exits with status 1; the traceback
    is shown only with `--debug`.

    Example:
        >>> raise NebulaError("recipe 'x.yaml': unknown key 'lr'", hint="did you mean 'learning_rate'?")
        Traceback (most recent call last):
        ...
        nebula_hub.errors.NebulaError: recipe 'x.yaml': unknown key 'lr'
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(NebulaError):
    """A config or recipe file is invalid (unknown key, wrong type, bad value)."""


class RecordValidationError(NebulaError):
    """A record does not match the schema; the message names the record and the field."""
