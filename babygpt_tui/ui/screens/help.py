"""F1 / `?`: the loaded model (with its layout in words), every key, what the knobs mean, and
where to find the rest (command palette)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...api import ModelInfo
from ...escape import escape_controls
from ..header_text import count_text

KEYS = [
    ("Enter", "send the prompt (an empty prompt starts a new poem)"),
    ("Ctrl+J", "new line in the prompt (also Alt+Enter / Shift+Enter where the terminal reports them)"),
    ("↑ / ↓", "earlier / later prompts (on the first / last line of the prompt)"),
    ("Esc", "stop the reply now (the text so far is kept, marked stopped) and back to the prompt from anywhere"),
    ("Ctrl+R", "regenerate the last reply: same prompt, new random seed (the old reply is kept)"),
    ("[ / ]", "the previous / next reply of the turn (on the transcript, or an empty prompt)"),
    ("Ctrl+O", "copy the selected turn's reply (else the last) to the clipboard"),
    ("↑ ↓ on the transcript", "select a turn: Ctrl+O copies, Enter edits its prompt (a new turn), F3 replays it"),
    ("Ctrl+F", "find text in the transcript: Enter / ↓ next, ↑ previous, Esc closes"),
    ("F5", "reset the sampling knobs to their defaults"),
    ("Ctrl+N", "new session (the open one stays saved: sessions autosave after every reply)"),
    ("F2", "sessions: search, open, rename (Ctrl+R), delete (Ctrl+D), export (Ctrl+E)"),
    ("F3", "replay the last turn: its prompt, settings and seed again ⇒ the same text"),
    ("Ctrl+S", "save the session now (autosave does it after every reply and on quit)"),
    ("Ctrl+B", "show / hide the sidebar (below 90 columns it floats over the transcript: open / close it)"),
    ("Ctrl+T", "heat-map: colour every reply character by its probability (legend in the sidebar)"),
    ("Ctrl+G", "heat-map in marks instead of colours: reverse, underline, bold, plain, dim (no colour needed)"),
    ("F4 / click", "inspect a reply character: probability, rank, settings, top alternatives"),
    ("inspecting", "← → ↑ ↓ Home End PgUp PgDn move · Enter: to the alternatives · Esc: leave"),
    ("alternatives", "↑ ↓ then Enter, or a click: branch — a new turn from there with that character"),
    ("F8", "attention: the text the inspected character was predicted from, coloured by where the model looked"),
    ("Shift+← →  ↑ ↓", "with F8 open: the next layer · the next head (or all heads averaged)"),
    ("F9", "sampler pipeline: the top candidates after each knob, in order; live while a reply streams"),
    ("Tab / Shift+Tab", "prompt → knobs → transcript → prompt; typing anywhere goes to the prompt"),
    ("← → ↑ ↓", "on a slider: one step (PageUp / PageDown: ten, Home / End: the ends)"),
    ("mouse", "click or drag a slider; scroll the transcript"),
    ("PgUp PgDn Home End", "on the transcript: scroll — scrolled up, it stops following the reply; End follows again"),
    ("Ctrl+P", "command palette: every action, plus themes"),
    ("F1  ?", "this help (? when the prompt is not focused)"),
    ("Ctrl+Q", "quit"),
]

PALETTE = [  # (title, help, app action): every action is also in the command palette (Ctrl+P)
    ("Stop", "Stop the reply now (Esc)", "stop"),
    ("Regenerate", "Same prompt, new seed (Ctrl+R)", "regenerate"),
    ("Copy reply", "The selected turn's, else the last, to the clipboard (Ctrl+O)", "copy_reply"),
    ("Find in the transcript", "Search prompts and replies (Ctrl+F)", "search"),
    ("Reset sampling knobs", "Back to the defaults (F5)", "reset_knobs"),
    ("Toggle context mode", "fresh ↔ continue the transcript", "toggle_context_mode"),
    ("Toggle fixed seed", "random ↔ fixed seed", "toggle_seed_mode"),
    ("Toggle one poem per reply", "Stop at the blank line that ends a poem", "toggle_one_poem"),
    ("Toggle sidebar", "Show or hide the knobs (Ctrl+B)", "toggle_sidebar"),
    ("New session", "Start an empty session (Ctrl+N)", "new_session"),
    ("Sessions", "Open, rename, delete or export saved sessions (F2)", "sessions"),
    ("Save session", "Write the session file now (Ctrl+S)", "save_now"),
    ("Rename session", "Give the open session a new name", "rename_session"),
    ("Export session as Markdown", "Prompts, replies and settings, to the exports folder", "export_md"),
    ("Export session as JSON", "The session file format, to the exports folder", "export_json"),
    ("Previous reply", "The turn's previous reply, kept by Ctrl+R ([)", "alternative(-1)"),
    ("Next reply", "The turn's next reply (])", "alternative(1)"),
    ("Replay last turn", "Same prompt, settings and seed ⇒ same text (F3)", "replay_last"),
    ("Replay a turn…", "Choose any turn of the session to replay", "pick_replay"),
    ("Save as defaults", "Theme and sampling knobs → config.toml", "save_defaults"),
    ("Toggle heat-map", "Colour replies by each character's probability (Ctrl+T)", "toggle_heatmap"),
    ("Heat-map: colours or marks", "Bands as text styles, or colours again (Ctrl+G)", "toggle_heat_encoding"),
    ("Inspect tokens", "Cursor on the last reply: probabilities and alternatives (F4)", "inspect"),
    ("Branch here…", "Pick an alternative for the inspected character; a new turn goes on from it", "branch_here"),
    (
        "Attention view",
        "Where the model looked for the inspected character, per layer and head (F8)",
        "toggle_attention",
    ),
    ("Sampler pipeline view", "Each sampling stage's top candidates, live while generating (F9)", "toggle_pipeline"),
    ("Focus the prompt", "Back to the prompt from anywhere (Esc)", "focus_prompt"),
    ("Help", "Keys and knobs (F1)", "help"),
]

KNOBS = [
    ("temp", "temperature; 0 = greedy (always the most likely character)"),
    ("top-k", "sample among the k most likely characters; 0 = off"),
    ("top-p", "keep the most likely characters up to this total probability; 1 = off"),
    ("min-p", "drop characters below min-p × the most likely one's probability; 0 = off"),
    ("repeat", "repetition penalty on recently used characters; 1 = off"),
    ("length", "maximum characters per reply"),
    ("seed", "random per reply (the one used is shown) or fixed for reproducible replies"),
    ("context", "fresh: each prompt alone · continue: the prompt extends the whole transcript"),
    ("one poem", "stop at the blank line that ends a poem (the stop string is not shown; footer: stop)"),
]


def _table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, expand=True, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    for key, text in rows:
        table.add_row(key, text)
    return table


def model_rows(info: ModelInfo) -> list[tuple[str, str]]:
    """The loaded model, as `info` tells it (file names and metadata escaped: they come from files)."""
    rows = [("file", info.path or info.name)]
    if info.server:
        rows.append(("server", info.server))
    if info.layout_description:
        rows.append(("layout", info.layout_description))
    size = f"{count_text(info.n_params)} parameters" if info.n_params else ""
    shape = f"{info.n_layer} layers × {info.n_head} heads × {info.n_embd} wide" if info.n_layer else ""
    rows.append(("size", " · ".join(p for p in (size, shape) if p) or "not told"))
    context = f"{info.block_size} characters of context" if info.block_size else ""
    vocab = f"{info.vocab_size} characters in the vocabulary" if info.vocab_size else ""
    rows.append(("reads", " · ".join(p for p in (context, vocab) if p) or "not told"))
    if not info.server:
        threads = f" · {info.threads} torch thread{'s' if info.threads != 1 else ''}" if info.threads else ""
        rows.append(("runs on", f"{info.device} · {info.dtype}{threads}"))
    return [(key, escape_controls(value)) for key, value in rows]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,f1,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, info: ModelInfo | None = None) -> None:
        super().__init__()
        self.info = info  # the loaded model (None while it loads)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            if self.info is not None:
                yield Static(_table("Model", model_rows(self.info)), id="help-model")
            yield Static(_table("Keys", KEYS), id="help-keys")
            yield Static(_table("Knobs (applied in this order, changeable while text streams)", KNOBS), id="help-knobs")
            yield Static(Text("Esc, F1 or q closes this help.", style="dim"), id="help-close")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "babygpt-tui help"
