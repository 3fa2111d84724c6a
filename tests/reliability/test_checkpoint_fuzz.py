"""Damaged model files of every kind end in a one-line CheckpointError — never a traceback."""

import json
import pickle
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from babygpt_tui.engine.checkpoint import load_checkpoint, save_checkpoint
from babygpt_tui.engine.errors import CheckpointError
from babygpt_tui.engine.layouts import LAYOUTS, export_state_dict
from babygpt_tui.engine.model import ModelConfig
from babygpt_tui.engine.nanogpt import read_meta

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def files(tmp_path_factory, make_tiny_model, tiny_tokenizer) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("ckpt")
    model = make_tiny_model(tiny_tokenizer.vocab_size, n_layer=1, n_embd=16, n_head=2)
    native = save_checkpoint(d / "m.safetensors", model, tiny_tokenizer)
    torch.save(export_state_dict(model, LAYOUTS["v9"]), d / "m.pth")  # a tutorial v9 model.pth
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
    sd = export_state_dict(make_tiny_model(tiny_tokenizer.vocab_size, n_layer=1, n_embd=16, n_head=2), LAYOUTS["v9"])
    sd = {k: v for k, v in sd.items() if not k.endswith(".tril")}
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
    sd = export_state_dict(make_tiny_model(tiny_tokenizer.vocab_size, n_layer=1, n_embd=16, n_head=2), LAYOUTS["v9"])
    sd = {k: v for k, v in sd.items() if not k.endswith(".tril")}
    name = sorted(sd)[key % len(sd)]
    if list(sd[name].shape) == shape:
        return
    sd[name] = torch.zeros(shape)
    path = tmp_path_factory.mktemp("s") / "m.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, corpus)


# ---- the safetensors header and its metadata: structured mutations and random bytes


def split_header(data: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def join_header(header: dict | bytes, body: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=6,
)
CONFIG_KEYS = st.sampled_from([f.name for f in fields(ModelConfig)] + ["bogus"])
MUTATIONS = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 99)),
    st.tuples(st.just("rename"), st.integers(0, 99), st.text(max_size=30)),
    st.tuples(st.just("copy"), st.integers(0, 99), st.text(max_size=30)),
    st.tuples(st.just("shape"), st.integers(0, 99), st.lists(st.integers(-2, 2**40), max_size=4)),
    st.tuples(
        st.just("dtype"), st.integers(0, 99), st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "BOOL", "U8", "X"])
    ),
    st.tuples(st.just("offsets"), st.integers(0, 99), st.lists(st.integers(-5, 10**8), max_size=3)),
    st.tuples(st.just("meta"), st.sampled_from(["config", "vocab", "layout", "format", "format_version"]), JSON_VALUES),
    st.tuples(
        st.just("meta-text"), st.sampled_from(["config", "vocab", "layout", "format_version"]), st.text(max_size=20)
    ),
    st.tuples(st.just("config"), CONFIG_KEYS, JSON_VALUES),
)


def mutate(header: dict, op: tuple) -> None:
    meta = header.setdefault("__metadata__", {})
    names = sorted(k for k in header if k != "__metadata__")
    kind, where, value = op[0], op[1], op[2] if len(op) > 2 else None
    if kind in ("meta", "meta-text"):
        meta[where] = value if kind == "meta-text" else json.dumps(value)
        return
    if kind == "config":
        try:
            config = json.loads(meta.get("config", "{}"))
        except ValueError:
            config = None
        config = config if isinstance(config, dict) else {}
        config[where] = value
        meta["config"] = json.dumps(config)
        return
    name = names[where % len(names)]
    if kind == "drop":
        del header[name]
    elif kind == "rename":
        header[value] = header.pop(name)
    elif kind == "copy":
        header[value] = dict(header[name])
    elif kind == "shape":
        header[name]["shape"] = value
    elif kind == "dtype":
        header[name]["dtype"] = value
    elif kind == "offsets":
        header[name]["data_offsets"] = value


class Files(dict):
    def __repr__(self) -> str:  # Hypothesis prints the arguments of a failing example
        return f"<{len(self)} files>"


@pytest.fixture(scope="module")
def native_files(tmp_path_factory, make_tiny_model, tiny_tokenizer) -> dict[str, bytes]:
    """Our format 2 (our names), and format 1 as the bundled model is (v9 names + metadata)."""
    d = tmp_path_factory.mktemp("native")
    model = make_tiny_model(tiny_tokenizer.vocab_size, n_layer=1, n_embd=16, n_head=2)
    v2 = save_checkpoint(d / "v2.safetensors", model, tiny_tokenizer).read_bytes()
    header, body = split_header(v2)
    old = {k: v.contiguous() for k, v in export_state_dict(model, LAYOUTS["v9"]).items() if "tril" not in k}
    meta = {k: v for k, v in header["__metadata__"].items() if k in ("vocab", "config", "format")} | {
        "format_version": "1"
    }
    save_file(old, str(d / "v1.safetensors"), metadata=meta)
    return Files(v2=v2, v1=(d / "v1.safetensors").read_bytes())


@FUZZ
@given(kind=st.sampled_from(["v1", "v2"]), ops=st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutated_safetensors_headers(native_files, tmp_path_factory, kind: str, ops: list) -> None:
    header, body = split_header(native_files[kind])
    for op in ops:
        mutate(header, op)
    path = tmp_path_factory.mktemp("h") / "m.safetensors"
    path.write_bytes(join_header(header, body))
    load_or_error(path, Path("unused"))


@FUZZ
@given(kind=st.sampled_from(["v1", "v2"]), raw=st.binary(max_size=512), keep_body=st.booleans())
def test_random_safetensors_headers(native_files, tmp_path_factory, kind: str, raw: bytes, keep_body: bool) -> None:
    _, body = split_header(native_files[kind])
    path = tmp_path_factory.mktemp("b") / "m.safetensors"
    path.write_bytes(join_header(b"{" + raw, body if keep_body else b""))
    load_or_error(path, Path("unused"))


@FUZZ
@given(data=st.binary(max_size=1024))
def test_random_meta_pkl(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("p") / "meta.pkl"
    path.write_bytes(b"\x80\x04" + data)
    try:
        read_meta(path)
    except CheckpointError as e:
        assert "\n" not in str(e) and str(path) in str(e)


@FUZZ
@given(
    meta=st.dictionaries(
        st.sampled_from(["vocab_size", "itos", "stoi", "other"]),
        JSON_VALUES | st.dictionaries(st.integers(-2, 5), st.text(max_size=2), max_size=6),
        max_size=4,
    )
)
def test_structured_meta_pkl(tmp_path_factory, meta: dict) -> None:
    path = tmp_path_factory.mktemp("s") / "meta.pkl"
    path.write_bytes(pickle.dumps(meta))
    try:
        tokenizer = read_meta(path)
    except CheckpointError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:
        assert all(isinstance(c, str) and len(c) == 1 for c in tokenizer.chars)


@FUZZ
@given(
    args=st.dictionaries(
        st.sampled_from(["n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size", "dropout", "x"]),
        JSON_VALUES,
        max_size=4,
    ),
    config=JSON_VALUES,
)
def test_mutated_nanogpt_model_args_and_config(tmp_path_factory, tiny_tokenizer, args: dict, config) -> None:
    from tests.engine.layout_reference import nanogpt_state_dict, save_nanogpt

    out = tmp_path_factory.mktemp("n") / "out"
    ckpt = save_nanogpt(out, nanogpt_state_dict(tiny_tokenizer.vocab_size, bias=True), 4, tiny_tokenizer.chars)
    saved = torch.load(ckpt, weights_only=True)
    saved["model_args"].update(args)
    saved["config"] = config
    torch.save(saved, ckpt)
    load_or_error(ckpt, Path("unused"))
