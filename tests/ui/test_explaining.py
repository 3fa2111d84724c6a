"""The explain views' headless side: the text and window a step is re-done over (fresh and
continue mode, an empty prompt, a session without windows), which knobs, and which answers count."""

from __future__ import annotations

from babygpt_tui.api import Explain, Explained, ModelInfo, SamplingParams, Watch
from babygpt_tui.explanation import Candidate, Explanation
from babygpt_tui.session import Turn
from babygpt_tui.token_record import TokenRecord
from babygpt_tui.ui.backend import Capabilities
from babygpt_tui.ui.conversation import Conversation
from babygpt_tui.ui.explaining import REMOTE_NOTE, Explainer, context_of

INFO = ModelInfo("tiny", "", 1, 10, 4, 1, 1, 8, "cpu", "float32")
WRITTEN = SamplingParams(temperature=0.5)


def chat() -> Conversation:
    c = Conversation()
    c.set_model(INFO)
    for prompt, reply, mode in [("ab", "cde", "fresh"), ("", "fgh", "fresh"), ("x", "yz", "continue")]:
        turn = Turn(prompt, reply, "length", context_mode=mode, model=c.model, seed=3)  # type: ignore[arg-type]
        turn.records = [TokenRecord(1, 0.5, 0.5, window=w) for w in (2, 3, 0)[: len(reply)]]
        turn.params_changes = [(0, WRITTEN)]
        c.turns.append(turn)
    return c


def test_the_context_is_the_prompt_as_sent_then_the_reply_so_far() -> None:
    c = chat()
    first, empty, continued = c.turns
    assert context_of(c, first, 2) == "abcd"
    assert context_of(c, empty, 1) == "\n\nf"  # an empty prompt started from the poem boundary
    # continue mode: the transcript before it, cropped to the block (4 characters) as it was sent
    assert context_of(c, continued, 1) == ("abcde" + "fgh" + "x" + "y")[-4:]


def test_an_inspected_step_is_re_done_with_its_window_and_its_knobs_and_only_the_newest_answer_counts() -> None:
    c = chat()
    sent: list[object] = []
    ex = Explainer(c, sent.append)
    ex.loaded(INFO, Capabilities())
    assert sent == []  # no view open: nothing asked
    ex.toggle("attention")
    ex.inspected(c.turns[0], 1, 1)
    last = sent[-1]
    assert isinstance(last, Explain) and (last.context, last.char, last.window) == ("abc", "d", 3)
    assert last.params == WRITTEN and last.seed == 3 and ex.shown.waiting
    ex.inspected(c.turns[0], 2, 1)  # a window not recorded (an older session): 0, the default
    newest = sent[-1]
    assert isinstance(newest, Explain) and newest.window == 0 and newest.id == last.id + 1
    e = Explanation(3, 0, None, "no attention", (), Candidate(1, "e", 1.0))
    assert not ex.answered(Explained(last.id, e))  # moot: the cursor moved on
    assert ex.answered(Explained(newest.id, e)) and ex.shown.explanation == e and not ex.shown.waiting
    assert not any(isinstance(r, Watch) for r in sent)  # the attention view needs no watch


def test_outside_inspect_mode_the_last_character_follows_the_knobs_and_a_server_is_said() -> None:
    c = chat()
    sent: list[object] = []
    ex = Explainer(c, sent.append)
    ex.loaded(INFO, Capabilities())
    ex.toggle("pipeline")
    assert sent[0] == Watch(pipeline=True, top=10)
    asked = sent[-1]
    assert isinstance(asked, Explain) and asked.char == "z" and asked.params == SamplingParams()
    ex.knobs_changed(SamplingParams(temperature=0.0))
    assert isinstance(sent[-1], Explain) and sent[-1].params.temperature == 0.0
    ex.set_capabilities(Capabilities(server="http://x", explain=False))
    assert sent[-1] == Watch(pipeline=False, top=10)  # a server cannot be watched
    ex.knobs_changed(SamplingParams(temperature=1.0))
    assert ex.shown.note == REMOTE_NOTE and not ex.shown.waiting and not isinstance(sent[-1], Explain)


def test_a_live_step_shows_unless_a_character_is_inspected() -> None:
    from babygpt_tui.api import TokenBatch
    from babygpt_tui.explanation import StepStages

    c = chat()
    ex = Explainer(c, lambda _: None)
    ex.loaded(INFO, Capabilities())
    ex.toggle("pipeline")
    step = StepStages(4, (), Candidate(1, "e", 1.0))
    batch = TokenBatch(1, "e", (), (), 1, 0.0, None, 1, False, 0.0, pipeline=step)
    assert ex.tokens(batch) and ex.shown.live == step
    ex.inspected(c.turns[0], 1, 1)
    assert ex.shown.live is None and not ex.tokens(batch)  # the inspected step stays in view
    ex.inspected(None)
    assert ex.tokens(batch) and ex.shown.live == step
    ex.reply_ended()
    assert ex.shown.live is None


def test_the_draw_row_always_shows_the_character_taken() -> None:
    from textual.style import Style

    from babygpt_tui.explanation import Stage
    from babygpt_tui.ui.widgets.pipeline import stage_row

    top = tuple(Candidate(i, c, p) for i, (c, p) in enumerate(zip("abcd", (0.4, 0.3, 0.2, 0.1), strict=True)))
    styles = (Style(), Style(), Style(bold=True))
    draw = stage_row(Stage("draw", top, 4, True), 2, 2, styles, False).plain
    assert "a" in draw and "b" not in draw and "▸c" in draw and "20%" in draw  # rank 3, taken: shown last
    raw = stage_row(Stage("raw", top, 4, True), 2, 2, styles, False).plain
    assert "a" in raw and "b" in raw and "c" not in raw  # other rows: the most likely only
    off = stage_row(Stage("top_k", top, 4, False), 2, 2, styles, True).plain
    assert "not used at temperature 0" in off
