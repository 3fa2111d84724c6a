"""The app's views, the first layer of `BabyGPTApp` (ui/app.py): the sidebar, the heat-map and its
bands, inspect mode, the attention and sampler views (their answers come from `explaining`), search,
and copying a reply. Each key binding of these leads to an `action_*` here."""

from __future__ import annotations

from contextlib import suppress

from textual.app import App
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import Input

from .backend import ChatBackend
from .conversation import Conversation
from .explaining import Explainer
from .messages import ExplanationReady
from .ui_state import HeatEncoding
from .widgets.attention import AttentionView
from .widgets.heat_palette import HEAT_ENCODING_NAMES
from .widgets.inspect_mode import InspectMode
from .widgets.inspector import Inspector
from .widgets.pipeline import PipelineView
from .widgets.prompt import PromptInput
from .widgets.search_bar import SearchBar
from .widgets.sidebar import Sidebar
from .widgets.transcript import Transcript


class ViewsApp(App[None]):
    """What the person looks at and how: no reply starts or ends here."""

    heatmap = reactive(False)  # colour every reply character by its probability
    heat_encoding: reactive[HeatEncoding] = reactive("colour")  # or "marks": text styles, no colour
    chat: Conversation
    engine: ChatBackend
    explainer: Explainer

    def _selected(self) -> int | None:
        """The turn selected (↑/↓ on the transcript, a search) or inspected; None: the last."""
        return self.query_one(Transcript).selected_index(self.chat.turns)

    def action_search(self) -> None:
        if bars := self.query(SearchBar):
            bars.first().query_one(Input).focus()
        else:
            self.query_one("#chat").mount(SearchBar(id="search"), before=self.query_one(Transcript))

    async def on_search_bar_find(self, message: SearchBar.Find) -> None:
        message.bar.show_count(*await self.query_one(Transcript).find(message.text, message.step))

    def on_search_bar_closed(self, message: SearchBar.Closed) -> None:
        message.bar.remove()
        self.query_one(Transcript).focus()  # the turn found stays selected: Ctrl+O, Enter, F3 act on it

    def on_turn_selection_edit_prompt(self, message: Transcript.EditPrompt) -> None:
        """Enter on a selected turn: its prompt in the box, to edit and send (a new turn)."""
        prompt = self.query_one(PromptInput)
        prompt.load_for_editing(message.turn.prompt)
        self.notify("The prompt of that turn is in the box: edit it and press Enter for a new turn.")

    def action_copy_reply(self) -> None:
        """Ctrl+O: the selected turn's reply, else the last reply."""
        if (i := self._selected()) is not None:
            reply, what = self.chat.turns[i].reply, f"turn {i + 1}'s reply"
        else:
            reply, what = self.chat.last_reply(), "the last reply"
        if reply:
            self.copy_to_clipboard(reply)
            self.notify(f"Copied {what} ({len(reply)} characters).")
        else:
            self.notify(
                "Nothing to copy yet." if not self.chat.turns else f"Nothing to copy: {what} is empty.",
                severity="warning",
            )

    def action_toggle_sidebar(self) -> None:
        self.query_one(Sidebar).toggle()

    def action_toggle_heatmap(self) -> None:
        self.heatmap = not self.heatmap
        if self.heatmap and (why := self.engine.capabilities.unavailable("probabilities")):
            self.notify(f"Heat-map: {why}.", severity="warning")

    def action_toggle_heat_encoding(self) -> None:
        self.heat_encoding = "marks" if self.heat_encoding == "colour" else "colour"
        self.notify(f"Heat-map bands: {HEAT_ENCODING_NAMES[self.heat_encoding]}.")

    def action_inspect(self, pick: bool = False) -> None:
        self.query_one(Transcript).inspect_last(pick)

    def action_toggle_attention(self) -> None:
        """F8: where the model looked, for the inspected character (inspect mode starts with it)."""
        opened = self.explainer.toggle("attention")
        self.query_one(AttentionView).set_class(opened, "-open")
        if opened and self.query_one(Transcript).cursor is None and self.chat.last_reply():
            self.action_inspect()
        self._show_explained()
        self.refresh_bindings()

    def action_toggle_pipeline(self) -> None:
        """F9: each sampler stage's distribution, live while a reply streams."""
        self.query_one(PipelineView).set_class(self.explainer.toggle("pipeline"), "-open")
        self._show_explained()

    def action_attention_layer(self, step: int) -> None:
        self.query_one(AttentionView).cycle_layer(step)

    def action_attention_head(self, step: int) -> None:
        self.query_one(AttentionView).cycle_head(step)

    def action_branch_here(self) -> None:
        self.action_inspect(pick=True)

    def on_inspect_mode_inspected(self, message: InspectMode.Inspected) -> None:
        self.query_one(Inspector).show(message.turn, message.index, message.number, message.pick)
        self.explainer.inspected(message.turn, message.index, message.number)
        self._show_explained()

    def on_explanation_ready(self, message: ExplanationReady) -> None:
        if self.explainer.answered(message.explained):
            self._show_explained()

    def _show_explained(self) -> None:
        with suppress(NoMatches):  # the app is closing
            self.query_one(AttentionView).show(self.explainer.shown)
            self.query_one(PipelineView).show(self.explainer.shown)
