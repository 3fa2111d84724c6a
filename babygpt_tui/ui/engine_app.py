"""What the engine says, the second layer of `BabyGPTApp` (ui/app.py): the model loaded or not,
tokens, a reply's end, the engine stopping, its logs; and `render_outcome`, which shows on screen
what the reply lifecycle (`lifecycle.ReplyLifecycle`) did."""

from __future__ import annotations

from contextlib import suppress

from textual.css.query import NoMatches
from textual.widget import AwaitMount

from ..api import ModelInfo, SamplingParams, SetParams
from .header_text import fit_header
from .lifecycle import Outcome, ReplyLifecycle
from .messages import (
    CapabilitiesChanged,
    EngineLog,
    EngineStopped,
    GenerationFinished,
    ModelLoaded,
    ModelLoadFailed,
    ReplyStarted,
    ServerNotice,
    TokensGenerated,
)
from .screens.error import ErrorScreen
from .session_controller import SessionController
from .views_app import ViewsApp
from .widgets.gauge import Gauge
from .widgets.inspector import Inspector
from .widgets.pipeline import PipelineView
from .widgets.sampling_panel import SamplingPanel
from .widgets.transcript import Transcript


class EngineApp(ViewsApp):
    """The engine's events on screen; the reply lifecycle decides, this draws."""

    model_info: ModelInfo | None = None  # the loaded model, for the header (None: not loaded)
    load_error: ModelLoadFailed | None = None  # the model could not be loaded (exit 2 or 1)
    params: SamplingParams
    replies: ReplyLifecycle
    sessions: SessionController

    def _start_engine(self) -> None:
        self.model_info = None
        self.sub_title = "loading model…"
        self.engine.start()
        self.engine.send(SetParams(self.params))

    # ----- what the engine says ----------------------------------------------------------------
    async def on_model_loaded(self, message: ModelLoaded) -> None:
        info = self.model_info = message.info
        self._fit_header()
        if info.vocab_size:  # a server may not tell
            self.query_one(SamplingPanel).set_vocab_size(info.vocab_size)
        self.query_one(Gauge).set_block_size(info.block_size)
        await self.render_start(self.replies.loaded(info))  # a prompt sent while it loaded starts
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

    async def on_generation_finished(self, message: GenerationFinished) -> None:
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
            await self.render_start(self.replies.regenerate(knobs))

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

    async def render_start(self, outcome: Outcome) -> None:
        """`render_outcome` for what may start a reply: no frame is drawn until the new turn is
        mounted whole, so it is laid out in one pass while the engine reads the prompt, and the
        first token is only a repaint (the time to first token, which `bench tui` measures)."""
        with self.batch_update():
            if (mounted := self.render_outcome(outcome)) is not None:
                await mounted

    def _fit_header(self, width: int | None = None) -> None:
        """The model's description, as long as fits beside the session's name."""
        if self.model_info is not None:
            self.sub_title = fit_header(self.model_info, self.title, width or self.size.width)
