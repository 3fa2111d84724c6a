"""Every layout loads onto the one model and computes exactly what its original script does.

For each BabyGPT tutorial step v1-v12 and nanoGPT (bias on and off, compiled or not): a tiny
state_dict with the original names, saved the way the original saves it, loaded by our loader and
run by our Generator with `exact` (float32, context_keep = block_size - 1), against the reference
forward in layout_reference.py: greedy tokens equal, token for token, past block_size, and
logprobs within 1e-4.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.engine.checkpoint import load_checkpoint
from babygpt_tui.engine.errors import CheckpointError
from babygpt_tui.engine.generate import Generator
from tests.engine.layout_reference import (
    TUTORIAL,
    greedy,
    nanogpt_logits,
    nanogpt_state_dict,
    save_nanogpt,
    tutorial_logits,
    tutorial_state_dict,
)

N_TOKENS = 30  # past block_size (8): every step after the 8th is a crop in the scripts, a shift in ours
PROMPT = "明月几时有"


@pytest.fixture
def corpus(tmp_path: Path, tiny_corpus: str) -> Path:
    path = tmp_path / "ci.txt"
    path.write_text(tiny_corpus, encoding="utf-8")
    return path


def ours(gen: Generator, prompt: str, n: int = N_TOKENS) -> tuple[list[int], list[float]]:
    request = GenerationRequest(prompt, SamplingParams(temperature=0.0, max_new_tokens=n))
    events = list(gen.stream(request))
    return [e.id for e in events], [e.logprob for e in events]


def assert_same(got: tuple[list[int], list[float]], want: tuple[list[int], list[float]]) -> None:
    assert got[0] == want[0]
    assert max(abs(a - b) for a, b in zip(got[1], want[1], strict=True)) < 1e-4


def saved_tutorial(tmp_path: Path, layout: str, vocab: int, **kw: int) -> tuple[Path, dict[str, torch.Tensor]]:
    sd = tutorial_state_dict(layout, vocab, **kw)
    path = tmp_path / f"{layout}.pth"
    torch.save(sd, path)  # what the script's torch.save(model.state_dict(), 'model.pth') writes
    return path, sd


@pytest.mark.parametrize("layout", TUTORIAL)
def test_every_tutorial_step_is_exact(tmp_path: Path, corpus: Path, tiny_tokenizer, layout: str) -> None:
    path, sd = saved_tutorial(tmp_path, layout, tiny_tokenizer.vocab_size)
    # v6 and v7 share keys (auto reads v7); v10-v12 have v9's. Name the step, as a user would.
    chosen = layout if layout in ("v6", "v10", "v11", "v12") else "auto"
    loaded = load_checkpoint(path, corpus, layout=chosen)
    assert loaded.layout.name == layout and loaded.kind == "upstream"
    gen = Generator.from_loaded(loaded, device="cpu", exact=True)
    assert gen.info.layout == layout and gen.info.dtype == "float32"
    prompt_ids = tiny_tokenizer.encode(PROMPT).ids
    assert_same(ours(gen, PROMPT), greedy(lambda ids: tutorial_logits(layout, sd, ids), prompt_ids, N_TOKENS))


def test_auto_reads_a_v6_v7_file_as_v7_and_says_so(tmp_path: Path, corpus: Path, tiny_tokenizer) -> None:
    path, sd = saved_tutorial(tmp_path, "v6", tiny_tokenizer.vocab_size)
    loaded = load_checkpoint(path, corpus)
    assert loaded.layout.name == "v7" and "--layout v6" in loaded.layout_note
    gen = Generator.from_loaded(loaded, device="cpu", exact=True)
    assert "auto chose v7" in gen.info.layout_description
    prompt_ids = tiny_tokenizer.encode(PROMPT).ids
    assert_same(ours(gen, PROMPT), greedy(lambda ids: tutorial_logits("v7", sd, ids), prompt_ids, N_TOKENS))
    v6 = Generator.from_loaded(load_checkpoint(path, corpus, layout="v6"), device="cpu", exact=True)
    assert v6.info.layout_description.startswith("BabyGPT tutorial v6") and "auto" not in v6.info.layout_description


def test_a_one_head_v4_and_a_wide_v3_are_different_layouts_of_the_same_math(
    tmp_path: Path, corpus: Path, tiny_tokenizer
) -> None:
    path, sd = saved_tutorial(tmp_path, "v4", tiny_tokenizer.vocab_size, n_head=1)
    loaded = load_checkpoint(path, corpus)
    assert loaded.layout.name == "v4" and loaded.model.config.n_head == 1
    gen = Generator.from_loaded(loaded, device="cpu", exact=True)
    ids = tiny_tokenizer.encode(PROMPT).ids
    assert_same(ours(gen, PROMPT), greedy(lambda x: tutorial_logits("v4", sd, x), ids, N_TOKENS))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("prefix", ["", "_orig_mod."])
def test_nanogpt_char_checkpoints_are_exact(tmp_path: Path, tiny_tokenizer, bias: bool, prefix: str) -> None:
    sd = nanogpt_state_dict(tiny_tokenizer.vocab_size, bias=bias)
    ckpt = save_nanogpt(tmp_path / "out-tiny-char", sd, n_head=4, chars=tiny_tokenizer.chars, prefix=prefix)
    loaded = load_checkpoint(ckpt)
    assert loaded.kind == "nanogpt" and loaded.layout.name == "nanogpt"
    cfg = loaded.model.config
    assert cfg.activation == "gelu" and cfg.bias is bias and cfg.tie_embeddings
    assert loaded.model.lm_head.weight is loaded.model.tok_emb.weight  # tied: counted and stored once
    gen = Generator.from_loaded(loaded, device="cpu", exact=True)
    ids = tiny_tokenizer.encode(PROMPT).ids
    assert_same(ours(gen, PROMPT), greedy(lambda x: nanogpt_logits(sd, x, n_head=4), ids, N_TOKENS))


def test_nanogpt_meta_is_found_in_data_dataset_as_sample_py_looks(tmp_path: Path, tiny_tokenizer) -> None:
    sd = nanogpt_state_dict(tiny_tokenizer.vocab_size, bias=True)
    repo = tmp_path / "nanoGPT"
    ckpt = save_nanogpt(
        repo / "out-tiny-char", sd, n_head=4, chars=tiny_tokenizer.chars, meta_dir=repo / "data" / "tiny_char"
    )
    assert not (ckpt.parent / "meta.pkl").exists()
    assert load_checkpoint(ckpt).tokenizer.chars == tiny_tokenizer.chars


def test_nanogpt_meta_can_be_named_and_a_missing_one_says_how(tmp_path: Path, tiny_tokenizer) -> None:
    sd = nanogpt_state_dict(tiny_tokenizer.vocab_size, bias=False)
    ckpt = save_nanogpt(tmp_path / "out", sd, n_head=4, chars=tiny_tokenizer.chars, meta_dir=tmp_path / "elsewhere")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "\n" not in str(e.value) and "--vocab-from" in str(e.value) and "meta.pkl" in str(e.value)
    assert load_checkpoint(ckpt, vocab_from=tmp_path / "elsewhere" / "meta.pkl").tokenizer.chars == tiny_tokenizer.chars


def test_a_gpt2_bpe_nanogpt_checkpoint_is_out_of_scope_in_one_line(tmp_path: Path) -> None:
    sd = nanogpt_state_dict(50304, bias=True, n_embd=4, n_head=1, n_layer=1)
    ckpt = save_nanogpt(tmp_path / "out", sd, n_head=1, chars=["a"])
    (ckpt.parent / "meta.pkl").unlink()
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    msg = str(e.value)
    assert "\n" not in msg and str(ckpt) in msg and "BPE" in msg and "out of scope" in msg


class Evil:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/babygpt-tui-meta-pwned"),))


def test_an_evil_meta_pkl_never_runs_code(tmp_path: Path, tiny_tokenizer) -> None:
    marker = Path("/tmp/babygpt-tui-meta-pwned")
    marker.unlink(missing_ok=True)
    sd = nanogpt_state_dict(tiny_tokenizer.vocab_size, bias=True)
    ckpt = save_nanogpt(tmp_path / "out", sd, n_head=4, chars=tiny_tokenizer.chars)
    with open(ckpt.parent / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": 3, "itos": Evil(), "stoi": {}}, f)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ckpt)
    assert "refused" in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "meta",
    [
        {"vocab_size": 2, "itos": {0: "a", 1: "ab"}},
        {"vocab_size": 2, "itos": {0: "a", 1: "a"}},
        {"vocab_size": 2, "itos": {0: "a", 1: 7}},
        {"vocab_size": 2, "itos": {0: "a", 2: "b"}},
        {"vocab_size": 2, "itos": {0: "a", 1: ("b",)}},
        {"vocab_size": 2, "itos": {0: "a", 1: 1.5}},
        ["a", "b"],
    ],
)
def test_a_meta_pkl_must_be_plain_distinct_characters(tmp_path: Path, meta: object) -> None:
    from babygpt_tui.engine.nanogpt import read_meta

    path = tmp_path / "meta.pkl"
    with open(path, "wb") as f:
        pickle.dump(meta, f)
    with pytest.raises(CheckpointError) as e:
        read_meta(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


# ---- what was found, in one line, for files of no supported layout


def one_line(path: Path, corpus: Path | None = None, layout: str = "auto") -> str:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, corpus, layout=layout)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and len(msg) < 400
    return msg


def test_blocks_without_feed_forward_are_an_unknown_layout(tmp_path: Path, corpus: Path, tiny_tokenizer) -> None:
    sd = tutorial_state_dict("v7", tiny_tokenizer.vocab_size)
    sd = {k: v for k, v in sd.items() if ".ffwd." not in k}
    torch.save(sd, tmp_path / "m.pth")
    msg = one_line(tmp_path / "m.pth", corpus)
    assert "keys for 2 attention blocks but no feed-forward" in msg and "v1-v12" in msg and "nanoGPT" in msg


def test_a_layout_that_does_not_fit_the_keys_is_refused(tmp_path: Path, corpus: Path, tiny_tokenizer) -> None:
    path, _ = saved_tutorial(tmp_path, "v9", tiny_tokenizer.vocab_size)
    msg = one_line(path, corpus, layout="v8")
    assert "--layout v8 does not fit" in msg and "v9" in msg


def test_a_missing_key_is_named(tmp_path: Path, corpus: Path, tiny_tokenizer) -> None:
    sd = tutorial_state_dict("v8", tiny_tokenizer.vocab_size)
    del sd["blocks.1.sa.proj.bias"]
    torch.save(sd, tmp_path / "m.pth")
    assert "'blocks.1.sa.proj.bias' is missing" in one_line(tmp_path / "m.pth", corpus)


def test_foreign_files_are_named_not_dumped(tmp_path: Path, corpus: Path) -> None:
    torch.save({f"encoder.layer.{i}.weight": torch.zeros(2, 2) for i in range(500)}, tmp_path / "m.pth")
    msg = one_line(tmp_path / "m.pth", corpus)
    assert "not a BabyGPT or nanoGPT model" in msg and "500 keys" in msg


@pytest.mark.parametrize(
    ("layout", "key"),
    [
        ("v2", "lm_head.weight"),
        ("v5", "ffwd.net.0.weight"),
        ("v8", "blocks.1.ffwd.net.2.weight"),
        ("v9", "ln_final.bias"),
    ],
)
def test_shapes_are_checked_against_the_inferred_config(
    tmp_path: Path, corpus: Path, tiny_tokenizer, layout: str, key: str
) -> None:
    sd = tutorial_state_dict(layout, tiny_tokenizer.vocab_size)
    sd[key] = torch.zeros(sd[key].shape[0] + 1, *sd[key].shape[1:])
    torch.save(sd, tmp_path / "m.pth")
    assert "shape mismatch" in one_line(tmp_path / "m.pth", corpus)


def test_steps_are_named_in_words(tmp_path: Path, corpus: Path, tiny_tokenizer) -> None:
    path, _ = saved_tutorial(tmp_path, "v8", tiny_tokenizer.vocab_size)
    gen = Generator.load(path, corpus, device="cpu", dtype="float32")
    assert (
        gen.info.layout_description == "BabyGPT tutorial v8: attention projection and a 4x MLP, residual, no LayerNorm"
    )
