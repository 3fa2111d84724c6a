"""The attention view (F8) and the sampler pipeline view (F9), driven with Pilot against the real
engine child process on the tiny model (2 layers × 4 heads, block_size 16): what a person sees
as they cycle layers and heads, move a knob, or watch a reply stream; and a tutorial v1 model,
which has no attention, saying so."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import pytest
import torch

from babygpt_tui.api import Load, SamplingParams, Watch
from babygpt_tui.ui.widgets.attention import ALL_HEADS, WEIGHT_CLASSES, AttentionView, weight_bucket, weights_of
from babygpt_tui.ui.widgets.pipeline import PipelineView
from babygpt_tui.ui.widgets.slider import Slider
from tests.engine.layout_reference import tutorial_state_dict
from tests.plugins.pilot import Sent, finished, press_now, ready, send, wait_until
from tests.ui.test_heatmap_inspector import reply

SIZE = (120, 36)


def attention(app) -> AttentionView:
    return app.query_one(AttentionView)


def pipeline(app) -> PipelineView:
    return app.query_one(PipelineView)


def coloured(view: AttentionView) -> list[int]:
    """The weight bucket each character of the window is drawn with (0: no colour)."""
    content = view.drawn()
    lines = content.plain.split("\n")
    start = len(lines[0]) + 1
    styles = [view.get_visual_style(name) for name in WEIGHT_CLASSES]
    window = view.state.explanation.window
    out = [0] * len(window)
    for span in content.spans:
        if span.style in styles and start <= span.start < start + len(window):
            out[span.start - start] = styles.index(span.style)
    return out


async def explained(pilot, view) -> None:
    await wait_until(pilot, lambda: view.state.explanation is not None and not view.state.waiting)
    await pilot.pause()


@pytest.fixture
def peaked_app(tmp_path: Path, make_tiny_model, tiny_tokenizer):
    """The app on a tiny model whose heads stare (queries and keys ×6): a random model's heads
    spread their weight almost evenly, which would colour every head's window alike."""
    from babygpt_tui.engine.checkpoint import save_checkpoint

    model = make_tiny_model(tiny_tokenizer.vocab_size)
    with torch.no_grad():
        for block in model.blocks:
            block.attn.qkv.weight[: 2 * 32].mul_(6)
    path = save_checkpoint(tmp_path / "peaked.safetensors", model, tiny_tokenizer)
    return lambda params: child_app(Load(str(path), device="cpu", dtype="float32", threads=1), params)


def child_app(load: Load, params: SamplingParams):
    from babygpt_tui.ui.app import BabyGPTApp
    from babygpt_tui.ui.engine_client import ChildProcess, engine_env

    command = [sys.executable, "-m", "babygpt_tui.cli", "engine", "--stdio"]
    return BabyGPTApp(load, lambda: ChildProcess(command, engine_env(1)), params=params)


async def test_f8_shows_where_the_inspected_character_looked_and_shift_arrows_cycle_layer_and_head(peaked_app) -> None:
    app = peaked_app(SamplingParams(max_new_tokens=30))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot, prompt="明月几时有")
        turn = app.chat.turns[0]
        await pilot.press("f8")  # opens the view and inspects the last character
        view = attention(app)
        await explained(pilot, view)
        e = view.state.explanation
        assert view.state.target.index == 29 and e.actual.text == turn.reply[29]
        assert math.isclose(e.actual.prob, turn.records[29].prob, rel_tol=1e-3)  # the step the reply took
        assert e.window == ("明月几时有" + turn.reply[:29])[-turn.records[29].window :]  # after the cache shift
        assert view.border_title == "attention · layer 1/2 · all heads"
        plain = view.drawn().plain
        assert "heads all   1   2   3   4" in plain and "L1" in plain and "L2" in plain
        buckets = {}
        for keys, title, (layer, head) in [
            ((), "layer 1/2 · all heads", (0, ALL_HEADS)),
            (("shift+right",), "layer 2/2 · all heads", (1, ALL_HEADS)),
            (("shift+down",), "layer 2/2 · head 1/4", (1, 0)),
            (("shift+down", "shift+down"), "layer 2/2 · head 3/4", (1, 2)),
            (("shift+up",) * 4, "layer 2/2 · head 4/4", (1, 3)),  # back round via all heads
            (("shift+right",), "layer 1/2 · head 4/4", (0, 3)),  # and round the layers
        ]:
            await pilot.press(*keys)
            assert view.border_title == f"attention · {title}"
            weights = weights_of(e, layer, head)
            assert coloured(view) == [weight_bucket(w) for w in weights]
            buckets[layer, head] = coloured(view)
        assert len({tuple(b) for b in buckets.values()}) > 1  # different heads looked at different places
        body = view.query_one("#attention-body")
        dark = {span.style for span in body.visual.spans}
        app.theme = "textual-light"
        await pilot.pause()
        assert {span.style for span in body.visual.spans} != dark  # the weight colours follow the theme
        await pilot.press("left")  # the cursor moves: the view follows
        await wait_until(pilot, lambda: view.state.target.index == 28 and not view.state.waiting)
        assert view.state.explanation.actual.text == turn.reply[28]


async def test_f9_at_temperature_zero_ends_in_one_bar_at_100_percent_and_a_knob_reshapes_it(make_child_app) -> None:
    app = make_child_app(SamplingParams(temperature=1.0, max_new_tokens=20))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot)
        await pilot.press("f9")  # not inspecting: the last character, with the knobs now
        view = pipeline(app)
        await explained(pilot, view)
        assert view.border_title == "sampler · turn 1 char 20 · knobs now"
        before = view.drawn().plain.split("\n")
        assert [row.split()[0] for row in before] == ["raw", "repeat", "temperature", "top-k", "top-p", "min-p", "the"]
        assert before[-1].count("%") > 1  # temperature 1: many candidates in the draw
        app.query_one("#knob-temperature", Slider).value = 0.0
        await wait_until(pilot, lambda: view.state.target.params.temperature == 0.0 and not view.state.waiting)
        await pilot.pause()
        rows = view.drawn().plain.split("\n")
        draw = rows[-1]
        assert draw.count("%") == 1 and "100%" in draw and "▸" in draw  # one bar at 100 %, the one taken
        assert "not used at temperature 0" in rows[3]
        app.query_one("#knob-temperature", Slider).value = 1.0
        app.query_one("#knob-top_k", Slider).value = 2
        await wait_until(pilot, lambda: view.state.target.params.top_k == 2 and not view.state.waiting)
        await pilot.pause()
        rows = view.drawn().plain.split("\n")
        assert rows[3].split()[:2] == ["top-k", "2"] and rows[-1].count("%") == 2  # two characters left
        assert rows[0] == before[0]  # the raw distribution does not depend on the knobs


async def test_a_streaming_reply_shows_its_live_steps_at_most_ten_times_a_second(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=400), delay=0.004)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        sent = Sent(app)
        await pilot.press("f9")
        assert any(isinstance(r, Watch) and r.pipeline for r in sent.requests)
        view = pipeline(app)
        shown: list[tuple[float, int]] = []
        original = view.show

        def show(state) -> None:
            if state.live is not None and (not shown or shown[-1][1] != state.live.step):
                shown.append((time.monotonic(), state.live.step))
            original(state)

        view.show = show
        await send(pilot, "明月")
        await wait_until(pilot, lambda: view.state.live is not None)
        assert view.border_title.endswith("· live")
        await finished(pilot)
        times = [t for t, _ in shown]
        assert len(shown) >= 2 and [s for _, s in shown] == sorted(s for _, s in shown)
        assert len(shown) <= (times[-1] - times[0]) * 10 + 2  # the engine sends at most one per 0.1 s
        await pilot.press("f9")  # closed: the engine stops watching
        assert isinstance(sent.requests[-1], Watch) and not sent.requests[-1].pipeline


def _v1_app(tmp_path: Path, tiny_corpus: str, tiny_tokenizer):
    corpus = tmp_path / "ci.txt"
    corpus.write_text(tiny_corpus, encoding="utf-8")
    model = tmp_path / "v1.pth"
    torch.save(tutorial_state_dict("v1", tiny_tokenizer.vocab_size), model)
    load = Load(str(model), vocab_from=str(corpus), device="cpu", dtype="float32", threads=1)
    return child_app(load, SamplingParams(max_new_tokens=10))


async def test_a_model_without_attention_says_so_instead_of_an_empty_grid(
    tmp_path, tiny_corpus, tiny_tokenizer
) -> None:
    app = _v1_app(tmp_path, tiny_corpus, tiny_tokenizer)
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot)
        await pilot.press("f8", "f9")
        view = attention(app)
        await explained(pilot, view)
        plain = view.drawn().plain
        assert "v1 has no attention layers" in plain and "no attention to show" in plain
        assert "heads" not in plain and view.border_title == "attention"
        await pilot.press("shift+right")  # nothing to cycle, nothing breaks
        assert pipeline(app).drawn().plain.startswith("raw")  # the sampler still has its stages


async def test_the_keys_are_in_the_footer_only_while_the_view_is_open(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=5))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.check_action("attention_layer", (1,)) is False
        await press_now(pilot, "f8")
        await pilot.pause()
        assert app.check_action("attention_layer", (1,)) is True
        assert "Send a prompt" in attention(app).drawn().plain  # nothing to explain yet
