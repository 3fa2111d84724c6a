"""Huge input: a 1 MB paste does not freeze the UI — it is cropped and the user is told — and a
10,000-turn session loads and scrolls."""

from __future__ import annotations

from textual import events

from babygpt_tui.api import SamplingParams
from babygpt_tui.session import ModelRef, Session, Turn
from babygpt_tui.session_store import SessionStore
from babygpt_tui.ui.widgets.prompt import MAX_PASTE, PromptInput
from tests.plugins.pilot import finished, ready, send, wait_until

MEGABYTE = 1_048_576


async def test_a_one_megabyte_paste_is_cropped_and_the_user_is_told(make_app, backend) -> None:
    app = make_app(SamplingParams(max_new_tokens=5, temperature=0.0))
    alphabet = "".join(c for c in backend.gen.tokenizer.chars if c != "\n")
    big = (alphabet * (MEGABYTE // len(alphabet) + 1))[:MEGABYTE]
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        prompt = app.query_one(PromptInput)
        app.post_message(events.Paste(big))  # as the terminal driver delivers it
        await pilot.pause()
        assert prompt.text == big[-MAX_PASTE:]
        await pilot.press("enter")
        await finished(pilot)
        turn = app.chat.turns[-1]
        block = backend.info.block_size
        assert turn.prompt == big[-block:]  # what the model reads: the one crop
        assert turn.stop_reason == "length" and turn.reply
        # the engine was given the cropped prompt, and read its end
        assert backend.requests[-1].prompt == turn.prompt
        titles = [n.title for n in app._notifications]
        assert "Long paste cropped" in titles and "Long prompt cropped" in titles
        note = next(n.message for n in app._notifications if n.title == "Long prompt cropped")
        assert f"the last {block} were sent and the first {MAX_PASTE - block:,} left out" in note


def _big_session(backend, turns: int):
    model = ModelRef(backend.info.name, backend.info.sha256)
    session = Session(
        "ten thousand",
        [
            Turn(
                prompt=f"prompt {i}",
                reply=f"reply number {i}\n第二行",
                stop_reason="length",
                seed=i,
                model=model,
                tokens=12,
            )
            for i in range(turns)
        ],
    )
    SessionStore().save(session)
    return SessionStore().load("ten thousand")


async def test_a_ten_thousand_turn_session_loads_and_scrolls(make_app, backend) -> None:
    from babygpt_tui.ui.session_controller import StartOptions
    from babygpt_tui.ui.widgets.transcript import PAGE, EarlierTurns, Transcript, TurnView

    session = _big_session(backend, 10_000)
    app = make_app(SamplingParams(max_new_tokens=5), start=StartOptions(session=session))
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        transcript = app.query_one(Transcript)
        await wait_until(pilot, lambda: len(transcript.query(TurnView)) == PAGE)
        assert len(app.chat.turns) == 10_000
        views = list(transcript.query(TurnView))
        assert views[-1].turn.reply == "reply number 9999\n第二行"
        assert transcript.scroll_y == transcript.max_scroll_y > 0  # at the newest turn
        marker = transcript.query_one(EarlierTurns)
        assert "9,950 earlier turns" in str(marker.render())
        # scrolling to the top shows the next older page, and the view stays where it was
        transcript.scroll_home(animate=False, immediate=True)
        await wait_until(pilot, lambda: len(transcript.query(TurnView)) == 2 * PAGE)
        await wait_until(pilot, lambda: transcript.scroll_y > 0)  # kept in place, not left at the top
        assert transcript.query(TurnView).first().turn.prompt == f"prompt {10_000 - 2 * PAGE}"
        assert "9,900 earlier turns" in str(marker.render())
        transcript.scroll_to(y=1, animate=False, immediate=True)  # the marker's text row, not the very top
        await pilot.pause()
        await pilot.click(EarlierTurns, offset=(10, 1))
        await wait_until(pilot, lambda: len(transcript.query(TurnView)) == 3 * PAGE)
        # the session still works: a new reply, autosaved with all 10,001 turns
        await send(pilot, "明月")
        await finished(pilot, 10_001)
        app.sessions.flush()  # the autosave runs in its writer thread
        assert len(SessionStore().load(session.name).turns) == 10_001
