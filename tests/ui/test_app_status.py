"""What the app shows about itself: tokens/s with the sidebar hidden, a gauge that starts from
zero in another session, notifications that keep their CJK characters, and text from files
(session names, model metadata) shown with control characters escaped."""

from __future__ import annotations

from textual.widgets import Digits, Sparkline

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.widgets.gauge import Gauge
from babygpt_tui.ui.widgets.prompt import PromptInput
from tests.plugins.pilot import finished, ready, send, wait_until


def screen_lines(app) -> list[str]:
    """The screen as drawn, one string per row (what the terminal gets, wide characters once)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_tokens_per_second_show_under_the_prompt_with_the_sidebar_hidden(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=400), delay=0.01)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+b")
        assert not app.query_one("#gauge").region.width  # no gauge on screen
        prompt = app.query_one(PromptInput)
        assert str(prompt.border_subtitle or "") == ""
        await send(pilot, "明月")

        def shown() -> str:
            return str(prompt.border_subtitle)

        await wait_until(pilot, lambda: "tok/s" in shown() and "…" not in shown())
        live = str(prompt.border_subtitle)
        assert live.startswith("▶ ") and float(live[2:].split()[0].replace(",", "")) > 0
        assert any(live in line for line in screen_lines(app))  # drawn, on the prompt's border
        await finished(pilot)
        final = app.chat.turns[0].decode_tokens_per_s
        await wait_until(pilot, lambda: not str(prompt.border_subtitle).startswith("▶"))
        assert str(prompt.border_subtitle) == f"{final:,.0f} tok/s" if final >= 10 else f"{final:.1f} tok/s"


async def test_the_gauge_starts_from_zero_after_ctrl_n_and_after_opening_a_session(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=20))
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot)
        gauge = app.query_one(Gauge)

        def cleared() -> bool:
            digits = app.query_one(Digits).value
            info = str(app.query_one("#gauge-info").render())
            return (
                digits == "0"
                and not list(app.query_one(Sparkline).data or [])
                and "prefill –" in info
                and "0/" in info
                and not app.query_one(PromptInput).border_subtitle
            )

        await send(pilot, "明月")
        await finished(pilot)
        assert not cleared() and gauge.rates
        await pilot.press("ctrl+n")
        await wait_until(pilot, cleared)
        await send(pilot, "春风")
        await finished(pilot)
        assert not cleared()
        first = next(info for info in app.sessions.store.list() if info.name != app.title)  # the first reply's
        app.sessions.open(first)
        await wait_until(pilot, lambda: app.title == first.name)
        await wait_until(pilot, cleared)


async def test_a_cjk_notification_is_drawn_whole_beside_and_over_the_sidebar(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot)
        text = "Renamed the session to '春江花月夜'."
        for size in ((120, 36), (80, 24)):
            await pilot.resize_terminal(*size)
            for open_sidebar in (False, True):
                app.clear_notifications()
                if open_sidebar != app.query_one("#sidebar").shown:
                    await pilot.press("ctrl+b")
                app.notify(text)
                await pilot.pause(0.3)
                # whole (a narrow toast may wrap the words, but never drops half a character)
                assert any("'春江花月夜'" in line for line in screen_lines(app)), (size, open_sidebar)


async def test_control_characters_from_files_are_escaped_in_the_header_and_notifications(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot)
        app.title = "evil\x1b[2J\x1b]0;owned\x07"
        app.notify("Opened evil\x1b[2J name\u202e.", title="x\x9b")
        await pilot.pause(0.3)
        assert app.title == "evil\\x1b[2J\\x1b]0;owned\\x07"
        drawn = "\n".join(screen_lines(app))
        assert "\x1b" not in drawn and "\u202e" not in drawn and "\x9b" not in drawn
        assert "evil\\x1b[2J name\\u202e." in drawn


async def test_a_session_with_terminal_escapes_in_its_text_is_drawn_without_them(make_app) -> None:
    from babygpt_tui.session import Session, Turn
    from babygpt_tui.session_store import SessionStore
    from babygpt_tui.ui.session_controller import StartOptions
    from babygpt_tui.ui.token_info import shown
    from babygpt_tui.ui.widgets.heatmap import ReplyChunk

    evil = "\x1b[2J\x1b]0;owned\x07\u202e"
    session = Session("poems", turns=[Turn(f"明{evil}月", f"春{evil}风", "length", seed=3)])
    SessionStore().save(session)
    app = make_app(start=StartOptions(session=SessionStore().load("poems")))
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(app.query(ReplyChunk)) == 1)
        await pilot.pause(0.2)
        drawn = "\n".join(screen_lines(app))
        assert "\x1b" not in drawn and "\u202e" not in drawn and "\x07" not in drawn
        assert "春␛[2J␛]0;owned␇\ufffd风" in drawn  # the reply: one visible character for each
        turn = app.chat.turns[0]
        assert len(app.query_one(ReplyChunk).render().plain) == len(turn.prompt + turn.reply)  # clicks map 1:1
        assert "明␛[2J␛]0;owned␇\ufffd月春" in drawn  # the prompt leads the reply's line, shown the same way
    assert shown("\x1b") == "␛" and shown("\u202e") == "\ufffd" and shown("\n") == "↵"


async def test_the_gauge_draws_the_last_batch_before_a_pause() -> None:
    """Batches closer than the redraw interval are drawn late, not never: a stream that stalls
    (a slow server, a held reply) shows where it stopped, not an older count."""
    from textual.app import App

    from babygpt_tui.api import TokenBatch

    class GaugeApp(App[None]):
        def compose(self):
            yield Gauge(id="gauge")

    def batch(cache_len: int) -> TokenBatch:
        return TokenBatch(0, "x", (), (), cache_len, 100.0, None, cache_len, False, 1.0)

    app = GaugeApp()
    async with app.run_test(size=(40, 10)) as pilot:
        gauge = app.query_one(Gauge)
        gauge.set_block_size(128)
        gauge.start()
        gauge.update_live(batch(10))  # drawn at once
        gauge.update_live(batch(65))  # too soon after: drawn by the trailing redraw
        await pilot.pause(0.5)
        assert "65/128" in str(app.query_one("#gauge-info").render())
