"""The Textual app: composes the widgets, declares the keys and routes messages — little else.

The model is loaded by an injected `loader` on the engine thread (`worker.ENGINE`), so the window
paints at once and this module never imports torch. Replies stream from `worker.run_generation`
on that same thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import replace
from functools import partial

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Header

from ..api import Backend, GenerationRequest, ParamsHolder, SamplingParams
from .conversation import Conversation, Turn, check_prompt, describe_model, random_seed
from .messages import GenerationFinished, ModelLoaded, ModelLoadFailed, SessionWritten, TokensGenerated, TypedText
from .screens.error import ErrorScreen
from .screens.help import PALETTE, HelpScreen
from .session_controller import SessionController, StartOptions
from .widgets.gauge import Gauge
from .widgets.inspector import Inspector
from .widgets.prompt import PromptInput
from .widgets.sampling_panel import SamplingPanel
from .widgets.transcript import Transcript
from .worker import ENGINE, load_backend, run_generation


class BabyGPTApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "babygpt-tui"
    BINDINGS = [
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("ctrl+o", "copy_reply", "Copy"),
        Binding("f5", "knobs('reset')", "Reset"),
        Binding("ctrl+b", "toggle_class('#sidebar', '-hidden')", "Sidebar", show=False),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("f2", "session('browse')", "Sessions"),  # sessions: see session_controller.py
        Binding("ctrl+n", "session('new')", "New"),
        Binding("f3", "session('replay_last')", "Replay"),
        Binding("ctrl+s", "session('save_now')", "Save", show=False),
        Binding("ctrl+t", "toggle('heatmap')", "Heat-map", show=False),  # see widgets/inspector.py
        Binding("f4", "inspect", "Inspect", show=False),
    ]
    heatmap = reactive(False)  # colour every reply character by its probability

    def __init__(
        self,
        loader: Callable[[], Backend],
        model_path: str = "",
        params: SamplingParams | None = None,
        options: StartOptions | None = None,
    ):
        super().__init__()
        self.loader, self.model_path = loader, model_path
        self.backend: Backend | None = None
        self.chat = Conversation()
        self.params = ParamsHolder(params)
        self.cancel = threading.Event()
        self._queued: str | None = None
        self._regenerate_when_done = False
        self.sessions = SessionController(self, options or StartOptions())

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield Transcript(id="transcript").data_bind(BabyGPTApp.heatmap)
                yield PromptInput(id="prompt")
            with Vertical(id="sidebar"):
                yield Gauge(id="gauge")
                yield Inspector(id="inspector").data_bind(BabyGPTApp.heatmap)
                yield SamplingPanel(self.params.get(), id="knobs")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "loading model…"
        self.query_one(PromptInput).focus()
        self.sessions.start()
        ENGINE.submit(load_backend, self.loader, self.model_path, self.post_message)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self.backend, info = message.backend, message.backend.info
        self.chat.set_model(info)
        self.sub_title = describe_model(info)
        self.query_one(SamplingPanel).set_vocab_size(info.vocab_size)
        self.query_one(Gauge).set_block_size(info.block_size)
        if self._queued is not None:
            self._start(self._queued)

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        self.push_screen(ErrorScreen(message.path, message.error, message.user_error))

    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        if self.chat.generating or self._queued is not None:
            busy = "Still generating — press Esc to stop it" if self._queued is None else "The model is still loading"
            self.notify(f"{busy}; your prompt stays in the box.", severity="warning")
            return
        self._queued = message.prompt.accept()
        if self.backend is None:
            self.notify("The model is still loading; your prompt runs as soon as it is ready.")
        else:
            self._start(self._queued)

    def _start(self, prompt: str, seed: int | None = None) -> None:
        assert self.backend is not None
        self._queued = None
        prompt, warnings = check_prompt(prompt, self.backend)
        for title, text in warnings:
            self.notify(text, title=title, severity="warning", markup=False)
        panel = self.query_one(SamplingPanel)
        seed = panel.fixed_seed if seed is None else seed  # None: a random one
        turn, request = self.chat.begin(prompt, self.params.get(), panel.context_mode, seed)
        panel.show_seed(turn.seed)
        self.start_turn(turn, request, self.params)

    def start_turn(self, turn: Turn, request: GenerationRequest, params_source: Callable[[], SamplingParams]) -> None:
        """Show the turn `chat` has just begun and generate its reply in a thread."""
        self.query_one(Transcript).add_turn(turn)
        self.query_one(Gauge).start()
        self.cancel = threading.Event()
        request = replace(request, context_keep=self.sessions.options.context_keep)
        ENGINE.submit(
            run_generation, self.backend, request, self.cancel, params_source, self.post_message, self.chat.turn_id
        )
        self.refresh_bindings()  # Stop becomes available

    def on_tokens_generated(self, message: TokensGenerated) -> None:
        try:  # NoMatches: the app is closing, its widgets are gone (the engine thread posts until it stops)
            with suppress(NoMatches):
                if (turn := self.chat.append_text(message.turn_id, message.text, message.token_info)) is not None:
                    self.query_one(Transcript).update_turn(turn)
                    self.query_one(Gauge).update_live(message)
        finally:
            message.handled.set()  # back-pressure: the worker may post the next batch

    def exit(self, *args, **kwargs) -> None:
        self.sessions.on_quit()  # a running reply is stopped, kept and saved
        super().exit(*args, **kwargs)

    def on_generation_finished(self, message: GenerationFinished) -> None:
        turn = self.chat.finish(message.turn_id, message.stats, message.error)
        if turn is None:
            return
        try:
            self.query_one(Transcript).finish_turn(turn)
            self.query_one(Gauge).finish(message.stats)
        except NoMatches:
            return  # the app is closing
        if turn.stop_reason == "error":
            self.notify(turn.error or "unknown error", title="Generation failed", severity="error", markup=False)
        self.refresh_bindings()
        self.sessions.reply_ended()  # autosave
        if self._regenerate_when_done:
            self._regenerate_when_done = False
            self.action_regenerate()

    def on_session_written(self, message: SessionWritten) -> None:
        self.sessions.written(message)  # an autosave finished in its thread

    def on_sampling_panel_params_changed(self, message: SamplingPanel.ParamsChanged) -> None:
        self.params.set(message.params)  # the running generation picks it up at its next token

    def on_typed_text(self, message: TypedText) -> None:
        """Typing while a slider or the transcript has focus goes to the prompt."""
        prompt = self.query_one(PromptInput)
        self.screen.set_focus(prompt)
        if message.submit:
            prompt.post_message(prompt.Submitted(prompt, prompt.text))
        else:
            prompt.insert(message.text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stop, Regenerate and Copy show dimmed in the footer when they would do nothing."""
        has_turns = bool(self.chat.turns)
        if action == "session":
            return True if self.sessions.enabled(*parameters) else None  # type: ignore[arg-type]
        enabled = {"stop": self.chat.generating, "regenerate": has_turns, "copy_reply": has_turns}
        return True if enabled.get(action, True) else None

    def action_stop(self) -> None:
        self.cancel.set()

    def action_regenerate(self) -> None:
        if self.backend is None or not self.chat.turns:
            return
        if self.chat.generating:  # stop first, regenerate when the reply has ended
            self._regenerate_when_done = True
            self.cancel.set()
            return
        last = self.chat.turns.pop()
        self.query_one(Transcript).remove_turn(last)
        self._start(last.prompt, seed=random_seed())

    def action_copy_reply(self) -> None:
        if reply := self.chat.last_reply():
            self.copy_to_clipboard(reply)
            self.notify(f"Copied the last reply ({len(reply)} characters).")
        else:
            self.notify("Nothing to copy yet.", severity="warning")

    def action_knobs(self, method: str) -> None:
        getattr(self.query_one(SamplingPanel), method)()

    def action_session(self, method: str) -> None:
        getattr(self.sessions, method)()

    def on_transcript_inspected(self, message: Transcript.Inspected) -> None:
        self.query_one(Inspector).show(message.turn, message.index, message.number, message.pick)

    def on_inspector_branch(self, message: Inspector.Branch) -> None:
        """Rewrite a reply from the inspected character on, with the picked alternative forced."""
        panel = self.query_one(SamplingPanel)
        try:
            turn, request = self.chat.branch(
                message.turn, message.index, message.choice.id, self.params.get(), panel.fixed_seed
            )
        except ValueError as e:
            return self.notify(str(e), severity="warning", markup=False)
        panel.show_seed(turn.seed)
        self.start_turn(turn, request, self.params)

    def action_inspect(self, pick: bool = False) -> None:
        self.query_one(Transcript).inspect_last(pick)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help, action in PALETTE:
            yield SystemCommand(title, help, partial(self.run_action, action))
