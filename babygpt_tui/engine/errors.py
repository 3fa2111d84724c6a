"""User-facing errors of the engine. Each message is one line: what file or value, what is
wrong, and what to do. `cli.main` prints them and exits 2; the TUI shows them."""

from ..errors import UserError


class EngineError(UserError):
    """A problem the user can fix (bad path, bad file, bad value) — never a bug."""


class CheckpointError(EngineError):
    pass


class DeviceError(EngineError):
    pass


class DataError(EngineError):
    pass
