"""What the header says about the loaded model, fitted to the terminal's width. No textual.

The header reads `session — model · params · device · dtype · layout`. At 80 columns the full
line did not fit and ended `cpu · b…`; instead of cutting the end (where the layout and dtype
are), shorter forms drop words in order of how little they tell: the file extension, "params",
"BabyGPT", then device and dtype. The layout (issue 15: "tutorial v7" or "nanoGPT") is kept as
long as anything is, with a "?" when it was guessed (v6 and v7 files have the same keys).
"""

from __future__ import annotations

from pathlib import PurePath

from rich.cells import cell_len

from ..api import ModelInfo

TITLE_SEPARATOR = " — "  # how Textual's header joins the title and the sub-title
HEADER_CHROME = 6  # the header's icon and right-hand space (app.tcss: HeaderIcon, HeaderClockSpace)


def count_text(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K" if n >= 1e3 else str(n)


def layout_labels(info: ModelInfo) -> tuple[str, str, str]:
    """(long, medium, short) names of the checkpoint's layout: ("BabyGPT tutorial v9",
    "tutorial v9", "v9"), ("nanoGPT", "nanoGPT", "nanoGPT"); all "" when the engine did not say."""
    name = info.layout
    if not name:
        return "", "", ""
    # The description is "<title>: <summary>" plus " (note)" when auto-detection made a choice;
    # the note tells which --layout to pass, which no summary mentions.
    title = info.layout_description.split(":", 1)[0].strip() or name
    guessed = "--layout" in info.layout_description
    if name.startswith("v") and name[1:].isdigit():
        medium, short = f"tutorial {name}", name
    else:
        medium = short = "nanoGPT" if name == "nanogpt" else name
    if guessed:
        return f"{title} (auto-chosen, --layout to pick)", f"{medium}?", f"{short}?"
    return title, medium, short


def header_forms(info: ModelInfo) -> list[str]:
    """The model's descriptions, widest first (the first is the full one)."""
    count = count_text(info.n_params)
    if info.server:  # what the server tells: its model's name, maybe its size, and the URL
        params = f"{count} params" if info.n_params else ""
        return [" · ".join(p for p in parts if p) for parts in ((info.name, params, info.server), (info.name,))]
    stem = PurePath(info.name).stem or info.name
    long, medium, short = layout_labels(info)
    forms = [
        (info.name, f"{count} params", info.device, info.dtype, long),
        (stem, f"{count} params", info.device, info.dtype, medium),
        (stem, count, info.device, info.dtype, short),
        (stem, count, short),
        (stem,),
    ]
    return [" · ".join(p for p in parts if p) for parts in forms]


def describe_model(info: ModelInfo) -> str:
    """`songci-small.safetensors · 6.3M params · cpu · float32 · BabyGPT tutorial v9`."""
    return header_forms(info)[0]


def fit_header(info: ModelInfo, title: str, width: int) -> str:
    """The widest description that fits beside `title` in a header `width` cells wide (the
    narrowest when none does: Textual then ends it with an ellipsis)."""
    room = width - HEADER_CHROME - cell_len(title) - (cell_len(TITLE_SEPARATOR) if title else 0)
    forms = header_forms(info)
    return next((form for form in forms if cell_len(form) <= room), forms[-1])
