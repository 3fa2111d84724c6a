"""Hostile model files: small files that claim huge models, and vocabularies that are not one
distinct character per id. Each is one line naming the file, before anything is allocated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from babygpt_tui.engine.checkpoint import load_checkpoint, save_checkpoint
from babygpt_tui.engine.errors import CheckpointError
from babygpt_tui.engine.layouts import LAYOUTS, export_state_dict


def one_line_error(path: Path, corpus: Path | None = None) -> str:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, corpus)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and len(msg) < 400
    return msg


@pytest.fixture
def corpus(tmp_path: Path, tiny_corpus: str) -> Path:
    path = tmp_path / "ci.txt"
    path.write_text(tiny_corpus, encoding="utf-8")
    return path


def test_twenty_thousand_empty_block_keys_are_refused_not_allocated(tmp_path: Path, tiny_model, tiny_tokenizer) -> None:
    # The case from the report: a 2.9 MB safetensors whose 20,000 empty `blocks.{i}.x` keys made
    # the loader build a 20,000-layer model (63 GB).
    tensors = {k: v.contiguous() for k, v in export_state_dict(tiny_model, LAYOUTS["v9"]).items() if "tril" not in k}
    tensors |= {f"blocks.{i}.x": torch.zeros(0) for i in range(20_000)}
    meta = {"vocab": json.dumps(tiny_tokenizer.chars, ensure_ascii=False)}
    path = tmp_path / "bomb.safetensors"
    save_file(tensors, str(path), metadata=meta)
    assert path.stat().st_size < 3_000_000
    assert "20,000 blocks" in one_line_error(path)


def test_a_thousand_empty_block_keys_name_the_first_missing_part(tmp_path: Path, tiny_model, tiny_tokenizer) -> None:
    tensors = {k: v.contiguous() for k, v in export_state_dict(tiny_model, LAYOUTS["v9"]).items() if "tril" not in k}
    tensors |= {f"blocks.{i}.x": torch.zeros(0) for i in range(1000)}
    path = tmp_path / "bomb.safetensors"
    save_file(tensors, str(path), metadata={"vocab": json.dumps(tiny_tokenizer.chars)})
    assert "is missing (and " in one_line_error(path)


def test_many_layers_that_are_views_of_one_storage_are_refused_by_size(tmp_path: Path, corpus: Path) -> None:
    # torch.save stores a storage once however many tensors view it: 600 well-formed layers in a
    # file of a few MB would otherwise become 600 real layers.
    C, V, L = 64, 120, 600
    base = torch.zeros(4 * C * C)

    def view(*shape: int) -> torch.Tensor:
        return base[: torch.Size(shape).numel()].view(*shape)

    sd = {"token_embedding_table.weight": view(V, C), "postion_embedding_table.weight": view(8, C)}
    for i in range(L):
        b = f"blocks.{i}"
        for h in range(4):
            for part in ("key", "query", "value"):
                sd[f"{b}.sa.heads.{h}.{part}.weight"] = view(C // 4, C)
        sd |= {f"{b}.sa.proj.weight": view(C, C), f"{b}.sa.proj.bias": view(C)}
        sd |= {f"{b}.ffwd.net.0.weight": view(4 * C, C), f"{b}.ffwd.net.0.bias": view(4 * C)}
        sd |= {f"{b}.ffwd.net.2.weight": view(C, 4 * C), f"{b}.ffwd.net.2.bias": view(C)}
        for ln in ("ln1", "ln2"):
            sd |= {f"{b}.{ln}.weight": view(C), f"{b}.{ln}.bias": view(C)}
    sd |= {"ln_final.weight": view(C), "ln_final.bias": view(C), "lm_head.weight": view(V, C), "lm_head.bias": view(V)}
    path = tmp_path / "views.pth"
    torch.save(sd, path)
    assert path.stat().st_size < 12_000_000
    msg = one_line_error(path, corpus)
    assert "MB of weights but the file is" in msg


def test_a_huge_context_is_refused_before_its_kv_cache(tmp_path: Path, tiny_model, tiny_tokenizer) -> None:
    # A 1-wide, 1,024-layer model with a context of 2**20: a small file, an 8 GB KV cache.
    from babygpt_tui.engine.model import BabyGPT, ModelConfig

    cfg = ModelConfig(vocab_size=tiny_tokenizer.vocab_size, block_size=1 << 20, n_embd=1, n_layer=1024, n_head=1)
    model = BabyGPT(cfg).to(torch.float16)
    path = save_checkpoint(tmp_path / "long.safetensors", model, tiny_tokenizer)
    assert "KV cache" in one_line_error(path)


@pytest.mark.parametrize(
    "vocab",
    [
        '"abc"',
        "{}",
        "[]",
        "[1, 2, 3]",
        '["a", ""]',
        '["a", "ab"]',
        '["a", "a"]',
        '["a", null]',
        '["a", "\\u001b[2J"]',
        "not json",
    ],
)
def test_vocabulary_metadata_must_be_distinct_single_characters(tmp_path: Path, tiny_model, vocab: str) -> None:
    from babygpt_tui.engine.tokenizer import CharTokenizer

    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, CharTokenizer(["x"]), extra={})
    # rewrite just the vocabulary entry of the header, keeping everything else valid
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["vocab"] = vocab
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n :])
    msg = one_line_error(path)
    assert "vocabulary" in msg and "\x1b" not in msg
