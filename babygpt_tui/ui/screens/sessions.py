"""F2: the saved sessions — name, first prompt, model, turns, last used — with a search box; open, rename,
delete (after a confirmation) and export. A file that does not load is listed as unreadable
with the reason: it cannot be opened, renamed or exported, only deleted.

The search box keeps the focus, so typing filters at once; ↑ ↓ move the highlight, Enter opens,
and the other actions are Ctrl keys (shown in the footer, clickable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from ...session import SessionError
from ...session_store import SessionInfo
from ..session_actions import export_and_tell
from ..widgets.footer import KeysFooter
from .dialogs import Choice, ChoiceDialog, InputDialog, clip

if TYPE_CHECKING:
    from ..session_controller import SessionController


def last_used(info: SessionInfo) -> str:
    return info.last_used.astimezone().strftime("%Y-%m-%d %H:%M")


class SessionsScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("enter", "open", "Open", priority=True),
        Binding("ctrl+r", "rename", "Rename", priority=True),
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+e", "export", "Export", priority=True),
        Binding("escape,f2", "close", "Close", priority=True),
        # Priority like Enter, so "↓ Enter" typed quickly opens the row below, never the one before.
        Binding("down", "move(1)", show=False, priority=True),
        Binding("up", "move(-1)", show=False, priority=True),
        Binding("pagedown", "move(10)", show=False, priority=True),
        Binding("pageup", "move(-10)", show=False, priority=True),
    ]

    def __init__(self, controller: SessionController) -> None:
        super().__init__()
        self.controller = controller
        self.infos: list[SessionInfo] = []
        self.shown: list[SessionInfo] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-box"):
            yield Input(placeholder="Search by name or first prompt", id="sessions-search")
            yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="sessions-note")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#sessions-box").border_title = "Sessions"
        table = self.query_one(DataTable)
        table.add_columns("", "name", "first prompt", "model", "turns", "last used")
        self.reload()
        self.query_one(Input).focus()

    # ----- the list --------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the folder again and refill the table."""
        try:
            self.infos = self.controller.store.list()
        except SessionError as e:
            self.infos = []
            self.notify(str(e), severity="error", markup=False)
        self.fill()

    def fill(self) -> None:
        table = self.query_one(DataTable)
        needle = self.query_one(Input).value.strip().casefold()
        self.shown = [i for i in self.infos if needle in i.name.casefold() or needle in i.preview.casefold()]
        table.clear()
        for info in self.shown:
            mark = "●" if self.controller.is_open(info) else ""
            if info.readable:
                preview = Text(clip(info.preview, 24) or "—", style="italic")
                cells: tuple[str | Text, ...] = (
                    clip(info.name, 32),
                    preview,
                    info.model or "—",
                    str(info.turns),
                    last_used(info),
                )
                table.add_row(mark, *cells, key=str(info.path))
            else:
                reason = info.error.removeprefix(f"{info.path}: ")
                unreadable = Text(clip(f"unreadable: {reason}", 60), style="red")
                cells = (Text(info.name, style="dim"), unreadable, "", "", last_used(info))
                table.add_row(mark, *cells, key=str(info.path))
        self.query_one("#sessions-note", Static).update(self.note())
        self.refresh_bindings()

    def note(self) -> Text:
        c = self.controller
        current = f"Open now: {c.session.name!r}"
        if not c.on_disk:
            current += " (not saved yet: it is saved after its first reply)"
        if not self.infos:
            return Text(f"No saved sessions yet in {c.store.directory}.\n{current}", style="dim")
        unreadable = sum(not i.readable for i in self.infos)
        counts = f"{len(self.shown)} of {len(self.infos)} shown"
        counts += f" · {unreadable} unreadable" if unreadable else ""
        return Text(f"{counts} · {c.store.directory}\n{current}", style="dim")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.fill()

    def selected(self) -> SessionInfo | None:
        table = self.query_one(DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        info = self.selected() if self.is_mounted else None
        needs = {"open": False, "rename": True, "export": True, "delete": False}  # open says why it cannot
        if action in needs:
            return True if info is not None and (info.readable or not needs[action]) else None
        return True

    # ----- actions -----------------------------------------------------------------------------
    def action_move(self, rows: int) -> None:
        table = self.query_one(DataTable)
        if self.shown:
            table.move_cursor(row=max(0, min(len(self.shown) - 1, table.cursor_row + rows)), animate=False)
            self.refresh_bindings()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # a click on the highlighted row (or Enter on the table) opens it
        self.action_open()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open(self) -> None:
        if (info := self.selected()) is None:
            return
        if not info.readable:
            self.notify(
                info.error, title="Cannot open this file (it can only be deleted)", severity="error", markup=False
            )
            return
        self.dismiss(None)
        self.controller.open(info)

    def action_rename(self) -> None:
        if (info := self.selected()) is None or not info.readable:
            return

        def done(new: str | None) -> None:
            if new is None:
                return
            try:
                name = self.controller.rename(info, new)
            except SessionError as e:
                self.notify(str(e), title="Not renamed", severity="error", markup=False)
                return
            self.notify(f"Renamed {info.name!r} to {name!r}.", markup=False)
            self.reload()
            rows = [i.name for i in self.shown]
            if name in rows:
                self.query_one(DataTable).move_cursor(row=rows.index(name), animate=False)

        self.app.push_screen(InputDialog(f"Rename {info.name!r} to:", info.name), done)

    def action_delete(self) -> None:
        if (info := self.selected()) is None:
            return
        what = f"{info.turns} turn{'s' if info.turns != 1 else ''}" if info.readable else "unreadable file"
        question = f"Delete session {info.name!r} ({what}, {info.path.name})? This cannot be undone."
        if self.controller.is_open(info):
            question += "\nIt is the open session: a new one starts."

        def done(yes: bool | None) -> None:
            if not yes:
                return
            if self.controller.is_open(info):
                self.dismiss(None)
            try:
                self.controller.delete(info)
            except SessionError as e:
                self.notify(str(e), title="Not deleted", severity="error", markup=False)
            if self.is_current_screen:
                self.reload()

        choices = [Choice("Delete", True, "y", "error"), Choice("Keep", False, "n")]
        self.app.push_screen(ChoiceDialog(question, choices, focus=1), done)

    @property
    def is_current_screen(self) -> bool:
        return self.app.screen is self

    def action_export(self) -> None:
        if (info := self.selected()) is None or not info.readable:
            return

        def done(fmt: str | None) -> None:
            if fmt:
                export_and_tell(self.controller, fmt, info)  # type: ignore[arg-type]

        choices = [Choice("Markdown", "md", "m", "primary"), Choice("JSON", "json", "j"), Choice("Cancel", None)]
        self.app.push_screen(ChoiceDialog(f"Export {info.name!r} as:", choices), done)
