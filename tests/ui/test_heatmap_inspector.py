"""The heat-map, the inspector and branching, driven with Pilot on the tiny model with a fixed
seed, against the real engine child process: what a person sees and what reaches the engine."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, OptionList, Static

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import BranchRef, Session, dumps_session, loads_session
from babygpt_tui.ui.token_info import bucket, step_at
from babygpt_tui.ui.widgets.heatmap import HEAT_CLASSES, ReplyChunk
from babygpt_tui.ui.widgets.inspector import Inspector, precise
from babygpt_tui.ui.widgets.transcript import Transcript, TurnView
from tests.plugins.pilot import Sent, finished, press_now, ready, send, wait_until

SIZE = (100, 30)


async def reply(pilot, prompt: str = "明月", seed: int = 7, turns: int = 1) -> None:
    """Send `prompt` with a fixed seed and wait for the reply to end."""
    app = pilot.app
    await ready(pilot)
    app.query_one("#seed-fixed", Checkbox).value = True
    await wait_until(pilot, lambda: not app.query_one("#seed-value", Input).disabled)
    app.query_one("#seed-value", Input).value = str(seed)
    await send(pilot, prompt)
    await finished(pilot, turns)


def styles_by_char(chunk: ReplyChunk) -> list:
    """The style of each reply character of `chunk` (a coloured newline has a cell before it;
    the first chunk draws the prompt before the reply)."""
    content = chunk.render()
    plain = content.plain
    at = [None] * len(plain)
    for span in content.spans:
        for k in range(span.start, span.end):
            at[k] = span.style
    out, pos = [], len(chunk.lead.content.plain)
    for char in chunk.text:
        out.append(at[pos])
        pos += 2 if char == "\n" and plain[pos] != "\n" else 1
    return out


def drawn_backgrounds(chunk: ReplyChunk) -> set:
    """The background colours of the reply's first row as drawn (padding cells and the prompt drawn
    before the reply aside)."""
    segments = list(chunk.render_line(0))
    prompt = chunk.get_visual_style("turn--prompt").background.rich_color.triplet
    drawn = {seg.style.bgcolor.triplet for seg in segments if seg.text.strip() and seg.style and seg.style.bgcolor}
    return drawn - {prompt}


def contrast(a, b) -> float:
    def luminance(color) -> float:
        def channel(c: int) -> float:
            c = c / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


async def test_every_reply_requests_alternatives_and_stores_them_per_character(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=40))
    async with app.run_test(size=SIZE) as pilot:
        sent = Sent(app)
        await reply(pilot)
        turn = app.chat.turns[0]
        request = sent.generates()[0].request
        assert request.top_alternatives == 10 and request.forced_prefix == ()
        assert len(turn.records) == len(turn.reply) == 40
        assert all(len(r.alt_ids) >= 10 for r in turn.records)  # ten alternatives each (or more: warped-only)
        assert turn.params_changes == [(0, SamplingParams(max_new_tokens=40))]


async def test_the_heatmap_colours_each_reply_character_by_its_bucket_but_not_the_prompt(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=60))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot)
        turn = app.chat.turns[0]
        chunk = app.query_one(ReplyChunk)
        assert set(styles_by_char(chunk)) == {None}
        legend = app.query_one("#heat-legend")
        assert not legend.display
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: None not in styles_by_char(chunk))
        expected = [chunk.get_visual_style(HEAT_CLASSES[bucket(r.prob)]) for r in turn.records]
        assert styles_by_char(chunk) == expected
        assert len({bucket(r.prob) for r in turn.records}) >= 3  # the test sees several colours
        assert legend.display and app.query_one(Inspector).display
        lead = chunk.lead.content  # the prompt, drawn before the reply: its own style, no heat
        assert lead.plain == turn.prompt and {s.style for s in lead.spans} == {chunk.get_visual_style("turn--prompt")}
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: set(styles_by_char(chunk)) == {None} and not legend.display)


async def test_heatmap_colours_follow_the_theme_and_stay_readable(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=30))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot)
        await pilot.press("ctrl+t")
        chunk = app.query_one(ReplyChunk)
        seen = {}
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await wait_until(pilot, lambda: chunk.get_visual_style(HEAT_CLASSES[0]) not in seen.values())
            await pilot.pause()
            styles = [chunk.get_visual_style(name) for name in HEAT_CLASSES]
            seen[theme] = styles[0]
            assert len(set(s.background for s in styles)) == len(HEAT_CLASSES)  # six distinct colours
            for style in styles:
                assert contrast(style.foreground, style.background) >= 4.5, (theme, style)
            backgrounds = {style.background.rich_color.triplet for style in styles}
            await wait_until(
                pilot, lambda backgrounds=backgrounds: drawn_backgrounds(chunk) <= backgrounds
            )  # redrawn on screen


async def test_arrow_keys_inspect_a_character_and_escape_leaves(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=30))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot)
        turn = app.chat.turns[0]
        inspector, transcript = app.query_one(Inspector), app.query_one(Transcript)
        transcript.focus()
        await pilot.press("left")  # starts inspect mode on the last character
        await wait_until(pilot, lambda: inspector.step is not None and inspector.step.index == 29)
        await pilot.press("home", "right", "right")
        await wait_until(pilot, lambda: inspector.step.index == 2)
        step = inspector.step
        assert step == step_at(turn, 2)
        head = str(app.query_one("#inspect-head", Static).render())
        assert f"'{turn.reply[2]}'" in head and precise(turn.records[2].prob) in head
        assert f"rank {turn.records[2].rank}" in head and "temp 0.80" in head
        options = app.query_one("#inspect-alts", OptionList)
        assert options.option_count == len(step.choices) >= 10
        rows = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert [row[1] for row in rows[:10]] == list(turn.records[2].alt_texts[:10])
        assert rows[[c.chosen for c in step.choices].index(True)].startswith("▸")
        assert app.query_one("#sidebar").has_class("-inspecting") and not app.query_one("#gauge").display
        knobs = app.query_one("#knobs")  # the knobs stay reachable while inspecting
        assert knobs.display and knobs.region.height >= 4 and knobs.region.y > inspector.region.y
        assert app.query_one(TurnView).cursor == 2
        await pilot.press("enter")  # to the alternatives; Esc there comes back to the cursor
        await wait_until(pilot, lambda: inspector.alternatives.has_focus)
        await pilot.press("escape")
        await wait_until(pilot, lambda: transcript.has_focus)
        assert transcript.cursor == (turn, 2) and not app.chat.generating and len(app.chat.turns) == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: transcript.cursor is None and not inspector.display)
        assert app.query_one("#knobs").display and app.query_one(TurnView).cursor is None


async def test_clicking_a_character_inspects_that_character(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=30))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot)
        turn = app.chat.turns[0]
        chunk = app.query_one(ReplyChunk)
        inspector = app.query_one(Inspector)
        lead = 2 * len(turn.prompt)  # the prompt is drawn first: the reply continues its line
        for x, expected in ((1, 0), (8, 3), (10, 4)):  # padding 1, then two cells per character
            await pilot.click(chunk, offset=(lead + x, 0))
            await wait_until(
                pilot, lambda expected=expected: inspector.step is not None and inspector.step.index == expected
            )
            assert inspector.step.text == turn.reply[expected]
        assert app.query_one(Transcript).has_focus


async def test_enter_on_an_alternative_branches_a_new_turn_with_that_token_forced(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=10))  # prompt + reply fit the block: no cache shift
    async with app.run_test(size=SIZE) as pilot:
        sent = Sent(app)
        await reply(pilot)
        source = app.chat.turns[0]
        original = (source.reply, list(source.records))
        inspector, transcript = app.query_one(Inspector), app.query_one(Transcript)
        transcript.focus()
        await pilot.press("left", "home", "right", "right", "right", "right")
        await wait_until(pilot, lambda: inspector.step is not None and inspector.step.index == 4)
        target = next(i for i, c in enumerate(inspector.step.choices) if not c.chosen)
        choice = inspector.step.choices[target]
        await pilot.press("enter")
        await wait_until(pilot, lambda: inspector.alternatives.has_focus)
        await pilot.press("home", *["down"] * target, "enter")
        await finished(pilot, turns=2)
        branch = app.chat.turns[1]
        request = sent.generates()[-1].request
        assert request.forced_prefix == (choice.id,) and request.prompt == "明月" + source.reply[:4]
        assert branch.prompt == "明月" + source.reply[:4] and branch.reply[0] == choice.text
        assert (source.reply, source.records) == original  # the original stays as it was
        first = branch.records[0]
        assert first.id == choice.id and first.forced and not branch.records[1].forced
        assert branch.branch == BranchRef(turn=1, at=5, was=source.reply[4])
        # Same context as the original at that step, so the same distribution (to the stored precision):
        was = source.records[4]
        assert first.alt_ids[:10] == was.alt_ids[:10]
        assert all(abs(a - b) <= 1e-3 * b for a, b in zip(first.alt_raw[:10], was.alt_raw[:10], strict=True))
        note = app.query(".turn-note").last(Static)
        await wait_until(pilot, lambda: "branched from turn 1 at character 5" in str(note.render()))
        assert transcript.cursor is None and not inspector.display  # the branch ended inspect mode


async def test_clicking_an_alternative_branches_too(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=10))
    async with app.run_test(size=SIZE) as pilot:
        sent = Sent(app)
        await reply(pilot)
        inspector = app.query_one(Inspector)
        await pilot.click(app.query_one(ReplyChunk), offset=(2 * len("明月") + 5, 0))  # after the prompt
        await wait_until(pilot, lambda: inspector.step is not None and inspector.step.index == 2)
        choice = inspector.step.choices[3]
        await pilot.click("#inspect-alts", offset=(4, 3))
        await finished(pilot, turns=2)
        assert sent.generates()[-1].request.forced_prefix == (choice.id,)
        assert app.chat.turns[1].reply.startswith(choice.text)
        assert app.query_one(Transcript).has_focus  # not the hidden list


async def test_escape_in_inspect_mode_leaves_it_without_stopping_the_reply(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=2048), delay=0.003)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await wait_until(pilot, lambda: len(app.chat.turns[0].reply) >= 20)
        transcript = app.query_one(Transcript)
        transcript.focus()
        transcript.inspect(app.chat.turns[0], 5)
        await wait_until(pilot, lambda: app.query_one(Inspector).step is not None)
        await press_now(pilot, "escape")
        await wait_until(pilot, lambda: transcript.cursor is None)
        assert app.chat.generating
        await press_now(pilot, "escape")  # not inspecting: Esc stops the reply, as always
        await finished(pilot)
        assert app.chat.turns[0].stop_reason == "stopped"


async def test_a_reloaded_session_can_be_heat_mapped_and_inspected(make_child_app) -> None:
    app = make_child_app(SamplingParams(max_new_tokens=30))
    async with app.run_test(size=SIZE) as pilot:
        await reply(pilot)
        saved = dumps_session(Session("s", turns=app.chat.turns))
        before = step_at(app.chat.turns[0], 7)
    restored = loads_session(saved).turns[0]
    app = make_child_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        transcript = app.query_one(Transcript)
        app.chat.turns.append(restored)
        await transcript.show_turns([restored])  # how an opened session is shown
        await pilot.press("ctrl+t")
        chunk = app.query_one(ReplyChunk)
        await wait_until(pilot, lambda: None not in styles_by_char(chunk))
        transcript.inspect(restored, 7)
        inspector = app.query_one(Inspector)
        await wait_until(pilot, lambda: inspector.step is not None)
        assert inspector.step == before


async def test_palette_actions_toggle_the_heatmap_inspect_and_branch(make_child_app) -> None:
    from babygpt_tui.ui.screens.help import PALETTE

    actions = {action for _, _, action in PALETTE}
    assert {"toggle_heatmap", "inspect", "branch_here"} <= actions
    app = make_child_app(SamplingParams(max_new_tokens=20))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await app.run_action("inspect")  # nothing to inspect yet: a notice, no crash
        await reply(pilot)
        await app.run_action("toggle_heatmap")
        assert app.heatmap and app.query_one(Transcript).heatmap
        await app.run_action("branch_here")  # "Branch here…": cursor on the last reply, focus on its alternatives
        inspector = app.query_one(Inspector)
        await wait_until(pilot, lambda: inspector.alternatives.has_focus and inspector.step.index == 19)
