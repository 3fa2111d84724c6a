"""config.toml: the documented example, parsing, precedence with sources, every error path."""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babygpt_tui import paths
from babygpt_tui.api import SamplingParams
from babygpt_tui.config import (
    CLI_SOURCE,
    DEFAULT_SOURCE,
    KEYS,
    ConfigError,
    Settings,
    parse_config_data,
    parse_config_text,
    resolve_settings,
    settings_values,
)
from babygpt_tui.config_example import EXAMPLE_CONFIG

REPO = Path(__file__).resolve().parents[1]
FLAGS = (
    "model",
    "vocab_from",
    "device",
    "dtype",
    "threads",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "repetition_penalty",
    "max_new_tokens",
    "seed",
    "context_keep",
)


def namespace(config: str | None = None, **given: object) -> argparse.Namespace:
    """What cli.py's parser hands over: every flag present, None when not given."""
    return argparse.Namespace(config=config, **{name: given.get(name) for name in FLAGS})


def write_config(text: str) -> Path:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def uncommented(text: str) -> str:
    """The example with every commented-out `# key = value` line switched on."""
    return re.sub(r"(?m)^#\s*([a-z_]+\s*=.*)$", r"\1", text)


# ----- the example file --------------------------------------------------------------------


def test_repository_example_is_the_one_config_init_writes() -> None:
    assert (REPO / "config.example.toml").read_text(encoding="utf-8") == EXAMPLE_CONFIG


def test_example_parses_as_is_to_the_defaults() -> None:
    assert parse_config_text(EXAMPLE_CONFIG) == {}


def test_example_documents_every_key_with_its_default() -> None:
    values = parse_config_text(uncommented(EXAMPLE_CONFIG))
    assert set(values) == set(KEYS)
    assert values == settings_values(Settings())


def test_every_documented_key_has_a_comment_above_it() -> None:
    lines = EXAMPLE_CONFIG.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"#\s*[a-z_]+\s*=", line):
            assert lines[i - 1].startswith("# ") and not re.match(r"#\s*[a-z_]+\s*=", lines[i - 1]), line


# ----- precedence and sources --------------------------------------------------------------


def test_no_config_file_means_built_in_defaults() -> None:
    settings, sources = resolve_settings(namespace())
    assert settings == Settings()
    assert set(sources.values()) == {DEFAULT_SOURCE} and set(sources) == set(KEYS)


def test_flags_beat_config_file_beats_defaults() -> None:
    path = write_config('model = "file.safetensors"\ntheme = "nord"\n[sampling]\ntemperature = 1.5\nseed = 7\n')
    settings, sources = resolve_settings(namespace(model="flag.safetensors", seed=9, top_k=5))
    assert settings.model == "flag.safetensors" and sources["model"] == CLI_SOURCE
    assert settings.seed == 9 and sources["sampling.seed"] == CLI_SOURCE
    assert settings.sampling.top_k == 5 and sources["sampling.top_k"] == CLI_SOURCE
    assert settings.sampling.temperature == 1.5 and sources["sampling.temperature"] == str(path)
    assert settings.theme == "nord" and sources["theme"] == str(path)
    assert settings.sampling.top_p == 1.0 and sources["sampling.top_p"] == DEFAULT_SOURCE
    assert settings.device == "auto" and sources["device"] == DEFAULT_SOURCE


def test_config_flag_and_argument_choose_the_file(tmp_path: Path) -> None:
    write_config("theme = 'nord'\n")
    other = tmp_path / "other.toml"
    other.write_text("theme = 'dracula'\n")
    assert resolve_settings(namespace(config=str(other)))[0].theme == "dracula"
    assert resolve_settings(namespace(), config_path=other)[1]["theme"] == str(other)
    assert resolve_settings(None)[0].theme == "nord"  # the TUI may pass no args at all


def test_an_explicitly_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: no such config file"):
        resolve_settings(namespace(config=str(tmp_path / "missing.toml")))


def test_paths_in_the_config_file_are_relative_to_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write_config('model = "models/m.safetensors"\nvocab_from = "~/corpus.txt"\n')
    settings, _ = resolve_settings(namespace())
    assert settings.model == str(path.parent / "models" / "m.safetensors")
    assert settings.vocab_from == str(tmp_path / "corpus.txt")
    assert resolve_settings(namespace(model="rel.pth"))[0].model == "rel.pth"  # flags: relative to the cwd


def test_special_values_random_auto_and_empty_paths() -> None:
    write_config('model = ""\nvocab_from = ""\ncontext_keep = "auto"\n[sampling]\nseed = "random"\n')
    settings, _ = resolve_settings(namespace())
    assert settings.model is None and settings.vocab_from is None
    assert settings.context_keep is None and settings.seed is None


def test_names_are_normalised() -> None:
    values = parse_config_text('device = "CUDA:1"\ndtype = "bf16"\n[sampling]\ntemperature = 1\n')
    assert values == {"device": "cuda:1", "dtype": "bfloat16", "sampling.temperature": 1.0}
    assert parse_config_text('dtype = "INT8"\n') == {"dtype": "int8"}  # int8 weights, bf16 activations
    assert isinstance(values["sampling.temperature"], float)


def test_settings_are_frozen_and_sampling_is_the_engine_dataclass() -> None:
    settings, _ = resolve_settings(namespace(temperature=0.0))
    assert isinstance(settings.sampling, SamplingParams) and settings.sampling.temperature == 0.0
    with pytest.raises(AttributeError):
        settings.theme = "nord"  # type: ignore[misc]


# ----- errors --------------------------------------------------------------------------------

BAD_VALUES = [
    ("model = 3", "model = 3"),
    ('device = "gpu"', 'device = "gpu"'),
    ('dtype = "int4"', 'dtype = "int4"'),
    ("threads = -1", "threads = -1"),
    ("threads = true", "threads = true"),
    ("threads = 2.0", "threads = 2.0"),
    ("context_keep = -3", "context_keep = -3"),
    ('context_keep = "half"', 'context_keep = "half"'),
    ('theme = ""', 'theme = ""'),
    ('theme = "../x"', 'theme = "../x"'),
    ('autosave = "yes"', 'autosave = "yes"'),
    ("[sampling]\ntemperature = -0.5", "sampling.temperature = -0.5"),
    ("[sampling]\ntemperature = nan", "sampling.temperature = nan"),
    ("[sampling]\ntemperature = inf", "sampling.temperature = inf"),
    ('[sampling]\ntemperature = "hot"', 'sampling.temperature = "hot"'),
    ("[sampling]\ntemperature = true", "sampling.temperature = true"),
    ("[sampling]\ntop_k = 1.5", "sampling.top_k = 1.5"),
    ("[sampling]\ntop_k = -1", "sampling.top_k = -1"),
    ("[sampling]\ntop_p = 0", "sampling.top_p = 0"),
    ("[sampling]\nmin_p = 1.0", "sampling.min_p = 1.0"),
    ("[sampling]\nrepetition_penalty = 0", "sampling.repetition_penalty = 0"),
    ("[sampling]\nmax_new_tokens = 0", "sampling.max_new_tokens = 0"),
    ("[sampling]\nmax_new_tokens = [1]", "sampling.max_new_tokens = [1]"),
    ("[sampling]\nseed = -1", "sampling.seed = -1"),
    ("[sampling]\nseed = 1.5", "sampling.seed = 1.5"),
    ('[sampling]\nseed = "lucky"', 'sampling.seed = "lucky"'),
    (f"[sampling]\ntemperature = {10**400}", "sampling.temperature = 1000"),
    ("sampling = 3", "sampling = 3"),
]


@pytest.mark.parametrize("text,shown", BAD_VALUES)
def test_bad_value_names_file_key_value_and_what_is_allowed(text: str, shown: str) -> None:
    path = write_config(text + "\n")
    with pytest.raises(ConfigError) as e:
        resolve_settings(namespace())
    message = str(e.value)
    assert message.startswith(f"{path}: {shown}")
    assert "is not allowed; use " in message and "\n" not in message


@pytest.mark.parametrize(
    "text,key,hint",
    [
        ("temprature = 1", "'temprature'", "sampling.temperature"),
        ("[sampling]\ntopk = 3", "'sampling.topk'", "sampling.top_k"),
        ("[ui]\ncolour = 'red'", "'ui'", None),
        ("colour = 'red'", "'colour'", None),
    ],
)
def test_unknown_key_is_an_error_with_a_suggestion(text: str, key: str, hint: str | None) -> None:
    path = write_config(text + "\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: unknown key {key}")) as e:
        resolve_settings(namespace())
    if hint:
        assert f"did you mean {hint!r}" in str(e.value)


def test_invalid_toml_is_an_error_with_the_position() -> None:
    path = write_config("[sampling\ntemperature = 1\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: not valid TOML") + r".*line 1"):
        resolve_settings(namespace())


def test_duplicate_key_is_an_error() -> None:
    write_config("theme = 'nord'\ntheme = 'dracula'\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve_settings(namespace())


def test_non_utf8_config_is_an_error() -> None:
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'theme = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        resolve_settings(namespace())


def test_unreadable_config_is_an_error() -> None:
    paths.config_path().mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(ConfigError, match="cannot read it"):
        resolve_settings(namespace())


@pytest.mark.parametrize(
    "flag,value,shown",
    [
        ("top_p", 2.0, "--top-p = 2.0"),
        ("threads", -2, "--threads = -2"),
        ("seed", -5, "--seed = -5"),
        ("device", "tpu", '--device = "tpu"'),
        ("context_keep", -1, "--context-keep = -1"),
        ("temperature", float("nan"), "--temperature = nan"),
        ("dtype", "int4", '--dtype = "int4"'),
    ],
)
def test_bad_flag_is_an_error_naming_the_flag(flag: str, value: object, shown: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(f"command line: {shown} is not allowed")):
        resolve_settings(namespace(**{flag: value}))


def test_config_error_is_a_user_error() -> None:
    from babygpt_tui.errors import UserError

    assert issubclass(ConfigError, UserError)


# ----- fuzzing: anything TOML-ish is either Settings or a ConfigError ------------------------

scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["auto", "random", "cpu", "cuda:0", "bf16", "nord", "", "fp16", "mps"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3))
key_names = st.one_of(st.sampled_from(sorted({k.rsplit(".", 1)[-1] for k in KEYS})), st.text(min_size=1, max_size=10))
sampling_tables = st.dictionaries(key_names, values, max_size=5)
documents = st.dictionaries(key_names, values, max_size=6).flatmap(
    lambda top: st.one_of(st.just(top), sampling_tables.map(lambda s: {**top, "sampling": s}))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_fuzz_documents_give_settings_or_config_error(document: dict) -> None:
    try:
        text = tomlkit.dumps(document)
    except (TypeError, ValueError):  # e.g. a value TOML cannot express
        return
    assert tomllib.loads(text) == document or _has_nan(document)
    try:
        values_set = parse_config_text(text, origin="fuzz.toml")
    except ConfigError as e:
        assert str(e).startswith("fuzz.toml: ")
        return
    assert set(values_set) <= set(KEYS)


def _has_nan(obj: object) -> bool:
    if isinstance(obj, float):
        return math.isnan(obj)
    if isinstance(obj, dict):
        return any(_has_nan(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_nan(v) for v in obj)
    return False


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz_=[].\"'#0123456789 \n-+")), max_size=80))
def test_fuzz_text_gives_settings_or_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config_text(text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(KEYS)), values, max_size=6))
def test_fuzz_known_keys_with_any_values(flat: dict) -> None:
    document: dict = {}
    for key, value in flat.items():
        *table, name = key.split(".")
        (document.setdefault(table[0], {}) if table else document)[name] = value
    try:
        checked = parse_config_data(document, "fuzz")
    except ConfigError:
        return
    assert set(checked) == set(flat)
