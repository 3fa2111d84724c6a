"""The Textual app: composes the widgets, declares the keys and routes messages — little else.

The model runs in an engine child process (`engine_client`), so the window paints at once and
this process never imports torch — or on an OpenAI-compatible server (`remote.client`, given as
`connect`), behind the same interface (`backend.ChatBackend`). A reply's life (request, cancel,
queue, regenerate, replay, branch, engine crashes) is `lifecycle.ReplyLifecycle`'s; sessions are
`SessionController`'s. Every key binding leads to an `action_*` method of this class.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from functools import partial
from typing import Any

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.filter import LineFilter
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import AwaitMount
from textual.widgets import Footer, Header, Input

from .. import paths
from ..api import Load, ModelInfo, SamplingParams, SetParams
from ..escape import MULTILINE, escape_controls
from . import unsaved, watchdog
from .backend import ChatBackend
from .conversation import Conversation
from .engine_client import ChildProcess, EngineClient, Transport
from .explaining import Explainer
from .header_text import fit_header
from .lifecycle import Knobs, Outcome, ReplyLifecycle
from .messages import (
    CapabilitiesChanged,
    EngineLog,
    EngineStopped,
    ExplanationReady,
    GenerationFinished,
    ModelLoaded,
    ModelLoadFailed,
    ReplyStarted,
    ServerNotice,
    SessionWritten,
    TokensGenerated,
    TypedText,
)
from .safe_text import ControlFilter
from .screens.error import ErrorScreen
from .screens.help import PALETTE, HelpScreen
from .session_controller import SessionController, StartOptions
from .ui_state import HeatEncoding, StateKeeper, UiState
from .widgets.attention import AttentionView
from .widgets.footer import KeysFooter
from .widgets.gauge import Gauge
from .widgets.heat_palette import HEAT_ENCODING_NAMES
from .widgets.inspect_mode import InspectMode
from .widgets.inspector import Inspector
from .widgets.pipeline import PipelineView
from .widgets.prompt import PromptInput
from .widgets.sampling_panel import SamplingPanel
from .widgets.search_bar import SearchBar
from .widgets.sidebar import Sidebar, SidebarLayout
from .widgets.stop_control import StopControl
from .widgets.transcript import Transcript

QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
CONTROL_FILTER = ControlFilter()


class BabyGPTApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "babygpt-tui"
    # Footer order is priority order: on a narrow terminal the footer shows only what fits.
    BINDINGS = [
        # first, so the footer has room for them while the attention view (F8) is open
        Binding("shift+right", "attention_layer(1)", "Layer", key_display="⇧←→"),
        Binding("shift+left", "attention_layer(-1)", "Layer", show=False),
        Binding("shift+down", "attention_head(1)", "Head", key_display="⇧↑↓"),
        Binding("shift+up", "attention_head(-1)", "Head", show=False),
        Binding("escape", "stop", "Stop"),
        Binding("escape", "focus_prompt", "Prompt", show=False),  # when there is nothing to stop
        Binding("ctrl+n", "new_session", "New"),
        Binding("f2", "sessions", "Sessions"),
        Binding("f3", "replay_last", "Replay"),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("ctrl+o", "copy_reply", "Copy"),
        Binding("f1", "help", "Help"),
        Binding("f5", "reset_knobs", "Reset"),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+s", "save_now", "Save", show=False),
        Binding("ctrl+t", "toggle_heatmap", "Heat-map", show=False),
        Binding("ctrl+g", "toggle_heat_encoding", "Heat colours/marks", show=False),
        Binding("f4", "inspect", "Inspect", show=False),
        Binding("ctrl+f", "search", "Find", show=False),
        Binding("left_square_bracket", "alternative(-1)", "Prev reply", show=False),
        Binding("right_square_bracket", "alternative(1)", "Next reply", show=False),
        Binding("f8", "toggle_attention", "Attention", show=False),  # in the help and the palette: the footer is full
        Binding("f9", "toggle_pipeline", "Sampler", show=False),
    ]
    heatmap = reactive(False)  # colour every reply character by its probability
    model_info: ModelInfo | None = None  # the loaded model, for the header (None: not loaded)
    _state_ready = False  # the remembered state is restored: changes from now on are saved
    heat_encoding: reactive[HeatEncoding] = reactive("colour")  # or "marks": text styles, no colour

    def __init__(
        self,
        load: Load,
        spawn: Callable[[], Transport] = ChildProcess,
        params: SamplingParams | None = None,
        options: StartOptions | None = None,
        connect: Callable[[Callable[[Message], object]], ChatBackend] | None = None,
    ) -> None:
        super().__init__()
        self.engine: ChatBackend = (connect or partial(EngineClient, spawn, load))(self.post_message)
        self.chat = Conversation()
        self.params = params or SamplingParams()
        options = options or StartOptions()
        self.replies = ReplyLifecycle(self.chat, self.engine.send, self._start_engine, options.context_keep)
        self.sessions = SessionController(self, options)
        self.explainer = Explainer(self.chat, lambda request: self.engine.send(request))
        self.state = StateKeeper(paths.state_path())
        self.exit_signal: int | None = None  # SIGTERM/SIGHUP that ended the app
        self.load_error: ModelLoadFailed | None = None  # the model could not be loaded (exit 2 or 1)

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield Transcript(id="transcript").data_bind(BabyGPTApp.heatmap)
                yield AttentionView(id="attention")
                yield PipelineView(id="pipeline")
                yield PromptInput(id="prompt")
            with Sidebar(id="sidebar"):
                yield Gauge(id="gauge")
                yield Inspector(id="inspector").data_bind(BabyGPTApp.heatmap)
                yield SamplingPanel(self.params, id="knobs")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.sessions.start()
        self._restore_state()
        loop = asyncio.get_running_loop()
        for sig in QUIT_SIGNALS:
            with suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
                loop.add_signal_handler(sig, self.quit_on_signal, sig)
        self.replies.engine_starting()
        self._start_engine()

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver, except on Linux/macOS: one that survives the terminal going away."""
        default = super().get_driver_class()
        if default.__name__ != "LinuxDriver":  # Windows, or TEXTUAL_DRIVER chose another
            return default
        from .driver import TerminalDriver

        return TerminalDriver

    # ----- theme and heat-map, remembered between launches (ui_state.py) -----------------------
    def _restore_state(self) -> None:
        state, problem = self.state.load()
        if state is not None:
            if state.theme in self.available_themes:
                self.theme = state.theme
            self.heatmap, self.heat_encoding = state.heatmap, state.heat_encoding
        if problem:
            self.notify(problem, severity="warning", markup=False)
        self._state_ready = True

    def _remember(self) -> None:
        if self._state_ready and (problem := self.state.save(UiState(self.theme, self.heatmap, self.heat_encoding))):
            self.notify(problem, severity="warning", markup=False)

    def watch_theme(self) -> None:
        self._remember()

    def watch_heatmap(self) -> None:
        self._remember()

    def _start_engine(self) -> None:
        self.model_info = None
        self.sub_title = "loading model…"
        self.engine.start()
        self.engine.send(SetParams(self.params))

    def quit_on_signal(self, sig: int) -> None:
        """SIGTERM / SIGHUP: the reply in progress is saved (marked stopped), then the app ends."""
        self.exit_signal = sig
        watchdog.arm(sig)  # the terminal may be gone: Textual's last writes can block the shutdown
        self.exit()

    # ----- what the engine says ----------------------------------------------------------------
    def on_model_loaded(self, message: ModelLoaded) -> None:
        info = self.model_info = message.info
        self._fit_header()
        if info.vocab_size:  # a server may not tell
            self.query_one(SamplingPanel).set_vocab_size(info.vocab_size)
        self.query_one(Gauge).set_block_size(info.block_size)
        self.render_outcome(self.replies.loaded(info))
        self.explainer.loaded(info, self.engine.capabilities)
        self._show_explained()

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        self.replies.load_failed()
        self.engine.close()
        self.load_error = message
        self.push_screen(ErrorScreen(message.path, message.error, message.user_error))

    def on_engine_stopped(self, message: EngineStopped) -> None:
        self.model_info = None
        self.sub_title = "engine stopped"
        outcome = self.replies.engine_stopped(message.reason)
        self.render_outcome(outcome)
        if outcome.finished is not None:
            self.sessions.reply_ended()  # the partial reply is saved, marked as an error

    def on_engine_log(self, message: EngineLog) -> None:
        self.log(message.log.message)
        if message.log.level == "status":  # e.g. "compiling the decode step…" until `loaded`
            self.sub_title = message.log.message
        elif message.log.level == "warning":
            self.notify(message.log.message, title="Engine", severity="warning", markup=False)

    def on_server_notice(self, message: ServerNotice) -> None:
        self.notify(message.text, title="Server", severity=message.severity, markup=False)

    def on_capabilities_changed(self, message: CapabilitiesChanged) -> None:
        """A server refused a knob (grey its slider out) or sends no probabilities."""
        caps = message.capabilities
        self.query_one(SamplingPanel).set_unavailable(caps.refused_knobs)
        self.query_one(Inspector).set_probabilities_note(caps.unavailable("probabilities"))
        self.explainer.set_capabilities(caps)

    def on_reply_started(self, message: ReplyStarted) -> None:
        self.render_outcome(self.replies.started(message.started))

    def on_tokens_generated(self, message: TokensGenerated) -> None:
        batch = message.batch
        try:  # NoMatches: the app is closing, its widgets are gone
            with suppress(NoMatches):
                if (turn := self.replies.tokens(batch)) is not None:
                    self.query_one(Transcript).update_turn(turn)
                    self.query_one(Gauge).update_live(batch)
                    if self.explainer.tokens(batch):
                        self.query_one(PipelineView).show(self.explainer.shown)
        finally:
            self.engine.ack(batch.turn)  # back-pressure: the engine may send the next batch

    def on_generation_finished(self, message: GenerationFinished) -> None:
        outcome = self.replies.finished(message.turn_id, message.stats, message.error)
        if outcome.finished is None:
            return
        try:
            self.render_outcome(outcome)
            self.query_one(Gauge).finish(message.stats)
        except NoMatches:
            return  # the app is closing
        self.sessions.reply_ended()  # autosave
        self.explainer.reply_ended()
        self._show_explained()
        if (knobs := self.replies.take_regenerate()) is not None:
            self.render_outcome(self.replies.regenerate(knobs))

    def render_outcome(self, outcome: Outcome) -> AwaitMount | None:
        """Show what the lifecycle did: turns added, removed or ended, and its notes. A started
        turn's view is mounted in the background; its `AwaitMount` is returned to wait for."""
        transcript = self.query_one(Transcript)
        mounted = None
        if outcome.removed is not None:
            transcript.remove_turn(outcome.removed)
        if outcome.finished is not None:
            transcript.finish_turn(outcome.finished)
        if outcome.replaced is not None:
            transcript.replace_turn(*outcome.replaced)
        if outcome.redrawn is not None:
            transcript.redraw_turn(outcome.redrawn)
        if outcome.started is not None:
            mounted = transcript.add_turn(outcome.started)
            self.query_one(Gauge).start()
            self.query_one(SamplingPanel).show_seed(outcome.started.seed)
        for note in outcome.notes:
            self.notify(note.text, title=note.title, severity=note.severity, markup=False)
        self.refresh_bindings()  # Stop, Regenerate and Replay follow the state
        return mounted

    def knobs(self) -> Knobs:
        panel = self.query_one(SamplingPanel)
        return Knobs(self.params, panel.context_mode, panel.fixed_seed, self.query_one(StopControl).stops)

    # ----- what the user does -------------------------------------------------------------------
    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        outcome = self.replies.submit(message.text, self.knobs())  # the engine starts reading the prompt
        if outcome.accepted:
            message.prompt.accept()
        # No frame until the new turn is mounted whole: it is then laid out in one pass while the
        # engine reads the prompt, and the first token is only a repaint (time to first token).
        with self.batch_update():
            if (mounted := self.render_outcome(outcome)) is not None:
                await mounted

    def on_sampling_panel_params_changed(self, message: SamplingPanel.ParamsChanged) -> None:
        self.params = message.params
        self.engine.send(SetParams(message.params))  # the running reply reads it before its next token
        if (outcome := self.replies.knobs_moved()).notes:
            self.render_outcome(outcome)  # a replay follows its stored settings: say so
        self.explainer.knobs_changed(message.params)
        self._show_explained()

    def on_session_written(self, message: SessionWritten) -> None:
        self.sessions.written(message)  # an autosave finished in its thread

    def on_gauge_speed(self, message: Gauge.Speed) -> None:
        """Tokens/s under the prompt too: seen with the sidebar hidden or folded away."""
        with suppress(NoMatches):  # the app is closing, its widgets are gone
            self.query_one(PromptInput).border_subtitle = message.text

    def on_typed_text(self, message: TypedText) -> None:
        """Typing while a slider or the transcript has focus goes to the prompt."""
        prompt = self.query_one(PromptInput)
        self.screen.set_focus(prompt)
        if message.submit:
            prompt.post_message(prompt.Submitted(prompt, prompt.text))
        else:
            prompt.insert(message.text)

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

    def on_inspector_branch(self, message: Inspector.Branch) -> None:
        """Rewrite a reply from the inspected character on, with the picked alternative forced."""
        if why := self.engine.capabilities.unavailable("branch"):
            self.notify(f"Branching is {why}: it forces the model's own token ids.", severity="warning")
            return
        self.render_outcome(self.replies.branch(message.turn, message.index, message.choice.id, self.knobs()))

    async def action_quit(self) -> None:
        """Ctrl+Q: with autosave off and unsaved turns, ask first (save / discard / cancel)."""
        unsaved.guard(self.sessions, "quit", self.exit)

    # Text from files (a session's name, a model's metadata, vocabulary characters) reaches the
    # header and notifications: control characters are shown as escapes, never sent raw.
    def validate_title(self, title: str) -> str:
        return escape_controls(title)

    def validate_sub_title(self, sub_title: str) -> str:
        return escape_controls(sub_title)

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), CONTROL_FILTER]  # nothing drawn sends a control character

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        message, title = escape_controls(message, keep=MULTILINE), escape_controls(title)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self.sessions.on_quit()  # a running reply is stopped, kept and saved
        self.engine.close()
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        self.engine.close()  # however the app ends (an exception, a test's teardown): no engine left behind

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stop shows dimmed in the footer when no reply runs. Regenerate, Copy and Replay stay
        live: with no turn (or a reply running) they say why instead of doing nothing."""
        if action.startswith("attention_") and not self.explainer.attention:
            return False  # Shift+arrows cycle the attention view's layer and head only while it is open
        if action == "stop" and not self.chat.generating:
            return None
        return True

    def action_stop(self) -> None:
        self.replies.stop()
        self.action_focus_prompt()

    def action_focus_prompt(self) -> None:
        """Esc: back to the prompt from anywhere (after stopping a reply, if one streams)."""
        self.query_one(Sidebar).close_overlay()
        self.query_one(PromptInput).focus()

    def on_resize(self, event: events.Resize) -> None:
        """On a narrow terminal the sidebar floats and the footer is compact (keys in priority order)."""
        main, layout = self.screen_stack[0], SidebarLayout.for_width(event.size.width)
        main.query_one(Sidebar).apply_layout(layout)
        footer = main.query_one(Footer)
        if footer.show_command_palette == layout.overlay:  # Ctrl+P still works; its hint makes room
            footer.compact, footer.show_command_palette = layout.overlay, not layout.overlay
            footer.refresh(recompose=True)
        self._fit_header(event.size.width)

    def watch_title(self) -> None:
        self._fit_header()

    def _fit_header(self, width: int | None = None) -> None:
        """The model's description, as long as fits beside the session's name."""
        if self.model_info is not None:
            self.sub_title = fit_header(self.model_info, self.title, width or self.size.width)

    def action_regenerate(self) -> None:
        self.render_outcome(self.replies.regenerate(self.knobs()))

    def _selected(self) -> int | None:
        """The turn selected (↑/↓ on the transcript, a search) or inspected; None: the last."""
        return self.query_one(Transcript).selected_index(self.chat.turns)

    def action_alternative(self, step: int) -> None:
        """`[` / `]`: the previous / next reply of the selected turn, else the last."""
        self.render_outcome(self.replies.browse(self._selected(), step))

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

    def action_replay_last(self) -> None:
        self.render_outcome(self.replies.replay(self._selected()))

    def action_pick_replay(self) -> None:
        from .screens.dialogs import TurnPicker

        if not self.chat.turns:
            self.notify("Nothing replayed: no turn yet.", severity="warning")
            return
        self.push_screen(TurnPicker(self.chat.turns), self._replay_picked)

    def _replay_picked(self, index: int | None) -> None:
        if index is not None:
            self.render_outcome(self.replies.replay(index))

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

    def action_reset_knobs(self) -> None:
        self.query_one(SamplingPanel).reset()

    def action_toggle_context_mode(self) -> None:
        self.query_one(SamplingPanel).toggle_context_mode()

    def action_toggle_seed_mode(self) -> None:
        self.query_one(SamplingPanel).toggle_seed_mode()

    def action_toggle_one_poem(self) -> None:
        on = self.query_one(StopControl).toggle()
        self.notify("One poem per reply: on" if on else "One poem per reply: off (replies run to their length)")

    def action_toggle_sidebar(self) -> None:
        self.query_one(Sidebar).toggle()

    def action_toggle_heatmap(self) -> None:
        self.heatmap = not self.heatmap
        if self.heatmap and (why := self.engine.capabilities.unavailable("probabilities")):
            self.notify(f"Heat-map: {why}.", severity="warning")

    def action_toggle_heat_encoding(self) -> None:
        self.heat_encoding = "marks" if self.heat_encoding == "colour" else "colour"
        self.notify(f"Heat-map bands: {HEAT_ENCODING_NAMES[self.heat_encoding]}.")

    def watch_heat_encoding(self) -> None:
        self.query("ReplyChunk, HeatLegend").refresh()
        self._remember()

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

    def action_sessions(self) -> None:
        self.sessions.browse()

    def action_new_session(self) -> None:
        self.sessions.new()

    def action_save_now(self) -> None:
        self.sessions.save_now()

    def action_rename_session(self) -> None:
        self.sessions.rename_current()

    def action_export_md(self) -> None:
        self.sessions.export("md")

    def action_export_json(self) -> None:
        self.sessions.export("json")

    def action_save_defaults(self) -> None:
        self.sessions.save_defaults()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.model_info))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help, action in PALETTE:
            yield SystemCommand(title, help, partial(self.run_action, action))
