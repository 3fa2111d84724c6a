"""The README's pictures exist, are Textual screenshots of the app, and are what
scripts/screenshots.py writes (so `python scripts/screenshots.py` refreshes every one of them)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_picture_the_readme_shows_is_a_screenshot_the_script_writes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]+\]\((docs/images/[^)]+\.svg)\)", readme)
    assert len(shown) >= 3 and readme.index(shown[0]) < readme.index("## Set up")  # seen before installing
    script = (ROOT / "scripts" / "screenshots.py").read_text(encoding="utf-8")
    for picture in shown:
        path = ROOT / picture
        svg = path.read_text(encoding="utf-8")
        assert svg.startswith("<svg") and "rich-terminal" in svg, picture  # Textual's export
        assert "songci-small" in svg, picture  # of the app on the bundled model
        assert f'"{path.name}"' in script, f"{picture} is not written by scripts/screenshots.py"
