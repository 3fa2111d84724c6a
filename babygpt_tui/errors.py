"""The root of every error a user can cause. Torch- and textual-free so every layer can use it.

Each message is one line naming what (file, key, value) is wrong and how to fix it. The CLI
prints it and exits 2; the TUI shows it as a notification or an error screen."""


class UserError(Exception):
    """A problem the user can fix — never a bug (bugs raise normally and keep their traceback)."""
