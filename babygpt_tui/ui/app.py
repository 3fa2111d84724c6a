"""The Textual app: composes the widgets, declares the keys and routes messages — little else.

The model runs in an engine child process (`engine_client`), so the window paints at once and
this process never imports torch — or on an OpenAI-compatible server (`remote.client`, given as
`connect`), behind the same interface (`backend.ChatBackend`). A reply's life (request, cancel,
queue, regenerate, replay, branch, engine crashes) is `lifecycle.ReplyLifecycle`'s; sessions are
`SessionController`'s. Every key binding leads to an `action_*` method of this class or of the
two layers it is built on: `views_app.ViewsApp` (the views: heat-map, inspect, attention, sampler,
search, sidebar) and `engine_app.EngineApp` (what the engine says, and drawing what the lifecycle
did).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from functools import partial
from typing import Any

from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.filter import LineFilter
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Header

from .. import paths
from ..api import Load, SamplingParams, SetParams
from ..escape import MULTILINE, escape_controls
from . import unsaved, watchdog
from .backend import ChatBackend
from .conversation import Conversation
from .engine_app import EngineApp
from .engine_client import ChildProcess, EngineClient, Transport
from .explaining import Explainer
from .lifecycle import Knobs, ReplyLifecycle
from .messages import (
    SessionWritten,
    TypedText,
)
from .safe_text import ControlFilter
from .screens.help import PALETTE, HelpScreen
from .session_controller import SessionController, StartOptions
from .ui_state import StateKeeper, UiState
from .widgets.attention import AttentionView
from .widgets.footer import KeysFooter
from .widgets.gauge import Gauge
from .widgets.inspector import Inspector
from .widgets.pipeline import PipelineView
from .widgets.prompt import PromptInput
from .widgets.sampling_panel import SamplingPanel
from .widgets.sidebar import Sidebar, SidebarLayout
from .widgets.stop_control import StopControl
from .widgets.transcript import Transcript

QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
CONTROL_FILTER = ControlFilter()


class BabyGPTApp(EngineApp):
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
    _state_ready = False  # the remembered state is restored: changes from now on are saved

    def __init__(
        self,
        load: Load,
        spawn: Callable[[], Transport] = ChildProcess,
        params: SamplingParams | None = None,
        options: StartOptions | None = None,
        connect: Callable[[Callable[[Message], object]], ChatBackend] | None = None,
    ) -> None:
        super().__init__()
        self.engine = (connect or partial(EngineClient, spawn, load))(self.post_message)
        self.chat = Conversation()
        self.params = params or SamplingParams()
        options = options or StartOptions()
        self.replies = ReplyLifecycle(self.chat, self.engine.send, self._start_engine, options.context_keep)
        self.sessions = SessionController(self, options)
        self.explainer = Explainer(self.chat, lambda request: self.engine.send(request))
        self.state = StateKeeper(paths.state_path())
        self.exit_signal: int | None = None  # SIGTERM/SIGHUP that ended the app
        self.load_error = None

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

    def quit_on_signal(self, sig: int) -> None:
        """SIGTERM / SIGHUP: the reply in progress is saved (marked stopped), then the app ends."""
        self.exit_signal = sig
        watchdog.arm(sig)  # the terminal may be gone: Textual's last writes can block the shutdown
        self.exit()

    def knobs(self) -> Knobs:
        panel = self.query_one(SamplingPanel)
        return Knobs(self.params, panel.context_mode, panel.fixed_seed, self.query_one(StopControl).stops)

    # ----- what the user does -------------------------------------------------------------------
    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        outcome = self.replies.submit(message.text, self.knobs())  # the engine starts reading the prompt
        if outcome.accepted:
            message.prompt.accept()
        await self.render_start(outcome)

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

    async def on_inspector_branch(self, message: Inspector.Branch) -> None:
        """Rewrite a reply from the inspected character on, with the picked alternative forced."""
        if why := self.engine.capabilities.unavailable("branch"):
            self.notify(f"Branching is {why}: it forces the model's own token ids.", severity="warning")
            return
        await self.render_start(self.replies.branch(message.turn, message.index, message.choice.id, self.knobs()))

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

    async def action_regenerate(self) -> None:
        await self.render_start(self.replies.regenerate(self.knobs()))

    def action_alternative(self, step: int) -> None:
        """`[` / `]`: the previous / next reply of the selected turn, else the last."""
        self.render_outcome(self.replies.browse(self._selected(), step))

    async def action_replay_last(self) -> None:
        await self.render_start(self.replies.replay(self._selected()))

    def action_pick_replay(self) -> None:
        from .screens.dialogs import TurnPicker

        if not self.chat.turns:
            self.notify("Nothing replayed: no turn yet.", severity="warning")
            return
        self.push_screen(TurnPicker(self.chat.turns), self._replay_picked)

    async def _replay_picked(self, index: int | None) -> None:
        if index is not None:
            await self.render_start(self.replies.replay(index))

    def action_reset_knobs(self) -> None:
        self.query_one(SamplingPanel).reset()

    def action_toggle_context_mode(self) -> None:
        self.query_one(SamplingPanel).toggle_context_mode()

    def action_toggle_seed_mode(self) -> None:
        self.query_one(SamplingPanel).toggle_seed_mode()

    def action_toggle_one_poem(self) -> None:
        on = self.query_one(StopControl).toggle()
        self.notify("One poem per reply: on" if on else "One poem per reply: off (replies run to their length)")

    def watch_heat_encoding(self) -> None:
        self.query("ReplyChunk, HeatLegend").refresh()
        self._remember()

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
