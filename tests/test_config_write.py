"""Writing config.toml: `config init` never overwrites; "Save as defaults" never drops a key."""

from __future__ import annotations

import errno
import os
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui import paths
from babygpt_tui.api import SamplingParams
from babygpt_tui.config import ConfigError, resolve_settings
from babygpt_tui.config_example import EXAMPLE_CONFIG
from babygpt_tui.config_write import init_config, save_defaults


def test_init_writes_the_example() -> None:
    path = init_config()
    assert path == paths.config_path()
    assert path.read_text(encoding="utf-8") == EXAMPLE_CONFIG


def test_init_never_overwrites() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("theme = 'nord'\n")
    with pytest.raises(ConfigError, match="already exists; not overwriting"):
        init_config()
    assert path.read_text() == "theme = 'nord'\n"


def test_save_defaults_without_a_file_starts_from_the_documented_example() -> None:
    path = save_defaults(theme="nord", params=SamplingParams(temperature=1.2, top_k=7), seed=42)
    text = path.read_text(encoding="utf-8")
    assert "# Sample only among the k likeliest characters; 0 means off." in text  # comments kept
    assert '# device = "auto"' in text  # untouched defaults stay commented out
    settings, sources = resolve_settings(None)
    assert settings.theme == "nord" and settings.seed == 42
    assert settings.sampling == SamplingParams(temperature=1.2, top_k=7)
    assert sources["device"] == "default" and sources["sampling.top_k"] == str(path)


def test_save_defaults_keeps_the_users_other_keys_and_comments() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        '# my settings\nmodel = "mine.safetensors"  # the good one\ntheme = "dracula" # dark\n'
        "[sampling]\ntop_k = 3  # few\nmax_new_tokens = 80\n"
    )
    save_defaults(theme="nord", params=SamplingParams(top_k=9, max_new_tokens=80))
    text = path.read_text()
    assert text.startswith('# my settings\nmodel = "mine.safetensors"  # the good one\ntheme = "nord" # dark\n')
    assert "top_k = 9  # few" in text
    settings, _ = resolve_settings(None)
    assert settings.model == str(path.parent / "mine.safetensors") and settings.sampling.top_k == 9


def test_save_defaults_adds_a_missing_sampling_section() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text('device = "cpu"\n')
    save_defaults(seed="random", theme="gruvbox")
    data = tomllib.loads(path.read_text())
    assert data == {"device": "cpu", "theme": "gruvbox", "sampling": {"seed": "random"}}


def test_an_inline_sampling_table_is_edited_in_place_without_losing_keys() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("sampling = { top_k = 3, min_p = 0.1 }\nautosave = false\n")
    save_defaults(params=SamplingParams(top_k=4))
    settings, _ = resolve_settings(None)
    assert settings.autosave is False and settings.sampling.top_k == 4 and settings.sampling.min_p == 0.0


def test_save_defaults_refuses_to_touch_a_broken_file() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("theme = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        save_defaults(theme="nord")
    assert path.read_text() == "theme = \n"


def test_save_defaults_refuses_a_huge_config_or_a_fifo_without_reading_it() -> None:
    from babygpt_tui.config import MAX_CONFIG_BYTES

    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="too large.*not changed"):
        save_defaults(theme="nord")
    assert path.stat().st_size == MAX_CONFIG_BYTES + 1
    path.unlink()
    os.mkfifo(path)  # reading a FIFO would wait for a writer forever
    with pytest.raises(ConfigError, match="FIFO|not a regular file"):
        save_defaults(theme="nord")


@pytest.mark.parametrize(
    "kwargs", [{"theme": "no such/theme"}, {"seed": -1}, {"seed": "lucky"}, {"params": SamplingParams(top_p=3.0)}]
)
def test_save_defaults_refuses_values_it_could_not_read_back(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match="Save as defaults: "):
        save_defaults(**kwargs)
    assert not paths.config_path().exists()


def test_disk_full_while_saving_defaults_keeps_the_old_file(monkeypatch: pytest.MonkeyPatch) -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("theme = 'nord'\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ConfigError, match="the previous file is unchanged"):
        save_defaults(theme="dracula")
    assert path.read_text() == "theme = 'nord'\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


params_strategy = st.builds(
    SamplingParams,
    temperature=st.floats(0, 100),
    top_k=st.integers(0, 10**6),
    top_p=st.floats(0.001, 1.0),
    min_p=st.floats(0, 0.999),
    repetition_penalty=st.floats(0.01, 10),
    repetition_window=st.integers(0, 4096),
    max_new_tokens=st.integers(1, 10**6),
)


@settings(max_examples=60, deadline=None)
@given(
    params_strategy, st.one_of(st.just("random"), st.integers(0, 2**63 - 1)), st.sampled_from(["nord", "textual-light"])
)
def test_saved_defaults_read_back_exactly(params: SamplingParams, seed: int | str, theme: str) -> None:
    path = paths.config_path()
    path.unlink(missing_ok=True)
    save_defaults(theme=theme, params=params, seed=seed)
    save_defaults(params=params)  # a second save edits the now-uncommented lines in place
    settings_, _ = resolve_settings(None)
    assert settings_.sampling == params and settings_.theme == theme
    assert settings_.seed == (None if seed == "random" else seed)


def test_a_new_key_lands_in_its_table_and_the_rest_is_byte_for_byte_unchanged() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True)
    original = '# mine\ntheme = "nord"  # dark\n\n[sampling]\n# the knobs I like\ntop_p = 0.9 # nucleus\n'
    path.write_text(original)
    save_defaults(params=SamplingParams(top_p=0.9, top_k=5))
    text = path.read_text()
    assert text.startswith(original)
    assert tomllib.loads(text) == {"theme": "nord", "sampling": {**tomllib.loads(text)["sampling"], "top_k": 5}}
    assert resolve_settings(None)[0].sampling == SamplingParams(top_p=0.9, top_k=5)
