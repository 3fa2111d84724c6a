"""Small terminals: below 90 columns the sidebar floats over the transcript (closed until Ctrl+B
or inspecting), the footer keeps the most used keys, and the header's model description is
shortened instead of cut. Pictures at 120×36, 80×24 and 60×20 are in test_snapshots_sizes.py."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from babygpt_tui.api import ModelInfo, SamplingParams
from babygpt_tui.ui.header_text import HEADER_CHROME, fit_header, header_forms, layout_labels
from babygpt_tui.ui.widgets.prompt import PromptInput
from babygpt_tui.ui.widgets.transcript import Transcript
from tests.plugins.pilot import finished, ready, send, wait_until

SONGCI = ModelInfo(
    "songci-small.safetensors", "/m", 6_300_000, 4000, 128, 6, 6, 384, "cpu", "float32",
    layout="v9", layout_description="BabyGPT tutorial v9: pre-LayerNorm (ln1, ln2, ln_final), as v10-v12",
)  # fmt: skip


def footer_keys(app) -> list[str]:
    return [
        key.description
        for key in app.screen.query("FooterKey")
        if key.region.width and key.region.right <= app.size.width
    ]


@pytest.mark.parametrize(("width", "height"), [(120, 36), (80, 24), (60, 20)])
async def test_header_footer_and_sidebar_fit_each_size(make_app, width: int, height: int) -> None:
    app = make_app()
    async with app.run_test(size=(width, height)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: app.model_info is not None)
        header = f"{app.title} — {app.sub_title}"
        assert cell_len(header) <= width - HEADER_CHROME and app.sub_title.endswith("float32")  # nothing cut
        await wait_until(pilot, lambda: len(footer_keys(app)) >= 4)  # the footer is laid out after the load
        keys = footer_keys(app)
        assert keys[:4] == ["Stop", "New", "Sessions", "Replay"]  # Ctrl+N and F3 kept
        sidebar, transcript = app.query_one("#sidebar"), app.query_one(Transcript)
        if width >= 90:
            assert sidebar.shown and transcript.region.width == width - 34
            assert "Reset" in keys
        else:
            assert not sidebar.shown and transcript.region.width == width  # the whole width to read
            await pilot.press("ctrl+b")
            assert sidebar.shown and sidebar.region.x == width - 35 and transcript.region.width == width
            await pilot.press("escape")  # back to the prompt closes it
            assert not sidebar.shown and app.query_one(PromptInput).has_focus


async def test_inspecting_on_a_narrow_terminal_opens_the_sidebar_and_leaving_closes_it(make_app) -> None:
    app = make_app(SamplingParams(max_new_tokens=30))
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        await send(pilot, "明月")
        await finished(pilot)
        sidebar = app.query_one("#sidebar")
        await pilot.press("f4")
        await wait_until(pilot, lambda: sidebar.shown and app.query_one("#inspect-panel").display)
        transcript = app.query_one(Transcript)
        transcript.focus()
        await pilot.press("escape")  # leaves inspect mode
        await wait_until(pilot, lambda: transcript.cursor is None)
        assert not sidebar.shown
        await pilot.press("ctrl+b")  # opened by hand: inspecting and leaving keep it open
        await pilot.press("f4")
        transcript.focus()
        await pilot.press("escape")
        await wait_until(pilot, lambda: transcript.cursor is None)
        assert sidebar.shown


async def test_growing_the_terminal_puts_the_sidebar_back_beside_the_transcript(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot)
        assert not app.query_one("#sidebar").shown
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        assert app.query_one("#sidebar").shown and app.query_one(Transcript).region.width == 120 - 34
        assert "palette" in " ".join(str(w.render()) for w in app.screen.query("FooterKey"))


def test_header_forms_shorten_words_not_the_end() -> None:
    forms = header_forms(SONGCI)
    assert forms[0] == "songci-small.safetensors · 6.3M params · cpu · float32 · BabyGPT tutorial v9"
    assert forms[1] == "songci-small · 6.3M params · cpu · float32 · tutorial v9"
    assert forms[2] == "songci-small · 6.3M · cpu · float32 · v9"
    assert [cell_len(f) for f in forms] == sorted((cell_len(f) for f in forms), reverse=True)
    assert fit_header(SONGCI, "session 3", 120) == forms[0]
    assert fit_header(SONGCI, "session 3", 80) == forms[1]
    assert fit_header(SONGCI, "session 3", 60) == forms[2]
    assert fit_header(SONGCI, "春江花月夜" * 2, 60) == forms[3]  # wide characters count twice
    assert fit_header(SONGCI, "春江花月夜" * 4, 60) == "songci-small"  # nothing fits: the shortest


def test_layout_labels_name_the_tutorial_step_nanogpt_and_a_guess() -> None:
    from dataclasses import replace

    assert layout_labels(SONGCI) == ("BabyGPT tutorial v9", "tutorial v9", "v9")
    nano = replace(SONGCI, layout="nanogpt", layout_description="nanoGPT: GPT-2 style, GELU, tied head")
    assert layout_labels(nano) == ("nanoGPT", "nanoGPT", "nanoGPT")
    v7 = replace(
        SONGCI,
        layout="v7",
        layout_description="BabyGPT tutorial v7: residual, no LayerNorm (auto chose v7: v6 files have the same "
        "keys, pass --layout v6 for a v6 model)",
    )
    long, medium, short = layout_labels(v7)
    assert long.startswith("BabyGPT tutorial v7 (auto-chosen") and (medium, short) == ("tutorial v7?", "v7?")
    assert layout_labels(replace(SONGCI, layout="", layout_description="")) == ("", "", "")
