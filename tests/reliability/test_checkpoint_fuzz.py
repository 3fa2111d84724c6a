"""Damaged model files of every kind end in a one-line CheckpointError — never a traceback."""

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babygpt_tui.engine.checkpoint import load_checkpoint, save_checkpoint
from babygpt_tui.engine.errors import CheckpointError

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def files(tmp_path_factory, make_tiny_model, tiny_tokenizer) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("ckpt")
    model = make_tiny_model(tiny_tokenizer.vocab_size, n_layer=1, n_embd=16, n_head=2)
    native = save_checkpoint(d / "m.safetensors", model, tiny_tokenizer)
    torch.save(model.state_dict(), d / "m.pth")
    return {"native": native.read_bytes(), "upstream": (d / "m.pth").read_bytes()}


def load_or_error(path: Path, corpus: Path) -> None:
    """The only acceptable outcomes: a model, or a one-line CheckpointError naming the file."""
    try:
        load_checkpoint(path, corpus if path.suffix == ".pth" else None)
    except CheckpointError as e:
        assert "\n" not in str(e) and str(path) in str(e)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_corpus) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "ci.txt"
    path.write_text(tiny_corpus, encoding="utf-8")
    return path


@FUZZ
@given(kind=st.sampled_from(["native", "upstream"]), cut=st.floats(0.0, 0.9999))
def test_truncated_files(files, corpus, tmp_path_factory, kind: str, cut: float) -> None:
    data = files[kind]
    path = tmp_path_factory.mktemp("t") / ("m.safetensors" if kind == "native" else "m.pth")
    path.write_bytes(data[: int(len(data) * cut)])
    load_or_error(path, corpus)


@FUZZ
@given(
    kind=st.sampled_from(["native", "upstream"]),
    flips=st.lists(st.tuples(st.floats(0, 0.9999), st.integers(0, 7)), min_size=1, max_size=8),
)
def test_bit_flipped_files(files, corpus, tmp_path_factory, kind: str, flips) -> None:
    data = bytearray(files[kind])
    for where, bit in flips:
        data[int(len(data) * where)] ^= 1 << bit
    path = tmp_path_factory.mktemp("f") / ("m.safetensors" if kind == "native" else "m.pth")
    path.write_bytes(bytes(data))
    load_or_error(path, corpus)


@FUZZ
@given(blob=st.binary(max_size=2048), suffix=st.sampled_from([".safetensors", ".pth", ".bin"]))
def test_random_files(corpus, tmp_path_factory, blob: bytes, suffix: str) -> None:
    path = tmp_path_factory.mktemp("r") / f"m{suffix}"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, corpus)


@FUZZ
@given(drop=st.sets(st.integers(0, 40), min_size=1, max_size=5))
def test_missing_keys(corpus, tmp_path_factory, make_tiny_model, tiny_tokenizer, drop) -> None:
    sd = make_tiny_model(tiny_tokenizer.vocab_size, n_layer=1, n_embd=16, n_head=2).state_dict()
    keys = sorted(sd)
    for i in drop:
        sd.pop(keys[i % len(keys)], None)
    path = tmp_path_factory.mktemp("k") / "m.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, corpus)


@FUZZ
@given(key=st.integers(0, 40), shape=st.lists(st.integers(0, 7), max_size=3))
def test_wrong_shaped_tensors(
    corpus, tmp_path_factory, make_tiny_model, tiny_tokenizer, key: int, shape: list[int]
) -> None:
    sd = make_tiny_model(tiny_tokenizer.vocab_size, n_layer=1, n_embd=16, n_head=2).state_dict()
    name = sorted(sd)[key % len(sd)]
    if list(sd[name].shape) == shape:
        return
    sd[name] = torch.zeros(shape)
    path = tmp_path_factory.mktemp("s") / "m.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, corpus)
