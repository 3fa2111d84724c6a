"""Small modal dialogs: a one-line text input (rename), a choice between buttons (confirm a
delete, pick an export format) and a list of turns (pick one to replay). Each returns its answer
through `dismiss`, None when cancelled with Esc."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from ...session import Turn


class InputDialog(ModalScreen[str | None]):
    """Asks for one line of text; Enter answers, Esc cancels."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self, title: str, value: str = "", hint: str = "Enter confirms · Esc cancels") -> None:
        super().__init__(classes="dialog")
        self.title_text, self.value, self.hint = title, value, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Input(self.value, id="dialog-input")
            yield Static(Text(self.hint), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)


@dataclass(frozen=True)
class Choice:
    label: str
    value: Any  # what the dialog returns
    key: str = ""  # a key that picks it directly
    variant: str = "default"


class ChoiceDialog(ModalScreen[Any]):
    """A question with a row of buttons; each choice's key (or Enter on its button) picks it."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self, question: str, choices: list[Choice], focus: int = 0) -> None:
        super().__init__(classes="dialog")
        self.question, self.choices, self.focus_index = question, choices, focus

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Text(self.question), classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                for i, choice in enumerate(self.choices):
                    label = f"{choice.label} ({choice.key})" if choice.key else choice.label
                    yield Button(label, variant=choice.variant, id=f"choice-{i}")  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self.focus_index}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.choices[int((event.button.id or "choice-0").rsplit("-", 1)[1])].value)

    def on_key(self, event: events.Key) -> None:
        for choice in self.choices:
            if choice.key and event.key == choice.key:
                event.stop()
                self.dismiss(choice.value)
                return
        if event.key in ("left", "right"):  # move between the buttons like a dialog on a desktop
            event.stop()
            self.focus_previous() if event.key == "left" else self.focus_next()


def clip(text: str, cells: int) -> str:
    """One line of at most `cells` terminal cells (CJK characters take two)."""
    text = " ".join(text.split())
    if cell_len(text) <= cells:
        return text
    text = text[:cells]  # every character takes at least one cell
    while cell_len(text) > cells - 1:
        text = text[:-1]
    return text + "…"


def turn_label(number: int, turn: Turn) -> Text:
    """Two lines: `  3  明月 → 几时有，把酒…` and, dim, `seed 7 · temp 0.80 · length`."""
    p = turn.params
    facts = f"seed {turn.seed} · temp {p.temperature:.2f} · top-k {p.top_k} · top-p {p.top_p:.2f} · "
    facts += f"{turn.stop_reason or 'generating'}" + (" · continued" if turn.context_mode == "continue" else "")
    return Text.assemble(
        (f"{number:>3}  ", "bold"),
        clip(turn.prompt, 20) or ("(empty prompt)", "italic"),
        " → ",
        clip(turn.reply, 44) or ("(no text)", "italic"),
        ("\n     " + facts, "dim"),
    )


class TurnPicker(ModalScreen[int | None]):
    """The turns of the session, the last one highlighted; Enter replays the chosen one."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self, turns: list[Turn]) -> None:
        super().__init__(classes="dialog")
        self.turns = turns

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="turn-picker"):
            yield Static(
                Text("Replay which turn? Same prompt, settings and seed ⇒ the same text."), classes="dialog-title"
            )
            yield OptionList(*[Option(turn_label(i + 1, t), id=str(i)) for i, t in enumerate(self.turns)])
            yield Static(Text("↑ ↓ choose · Enter replays · Esc cancels"), classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = len(self.turns) - 1
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int(event.option.id or 0))
