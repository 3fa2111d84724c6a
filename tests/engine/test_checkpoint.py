"""Native and upstream checkpoints load; every bad file is a one-line CheckpointError."""

import os
from pathlib import Path

import pytest
import torch

from babygpt_tui.engine.checkpoint import load_checkpoint, save_checkpoint
from babygpt_tui.engine.errors import CheckpointError
from babygpt_tui.engine.layouts import LAYOUTS, export_state_dict


def upstream_state_dict(model) -> dict:
    """What the tutorial's v9-v12 scripts save: their key names plus each head's `tril` buffer."""
    return export_state_dict(model, LAYOUTS["v9"])


@pytest.fixture
def upstream_pth(tmp_path: Path, tiny_model) -> Path:
    path = tmp_path / "model.pth"
    torch.save(upstream_state_dict(tiny_model), path)
    return path


@pytest.fixture
def corpus_file(tmp_path: Path, tiny_corpus: str) -> Path:
    path = tmp_path / "ci.txt"
    path.write_text(tiny_corpus, encoding="utf-8")
    return path


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].float(), sb[k].float()) for k in sa)


def test_native_round_trip_needs_nothing_else(tiny_checkpoint: Path, tiny_model, tiny_tokenizer) -> None:
    loaded = load_checkpoint(tiny_checkpoint)
    assert loaded.kind == "native"
    assert loaded.tokenizer.chars == tiny_tokenizer.chars
    assert loaded.model.config == tiny_model.config
    assert same_weights(loaded.model, tiny_model)
    assert len(loaded.sha256) == 64


def test_upstream_pth_loads_with_corpus_vocab(upstream_pth: Path, corpus_file: Path, tiny_model) -> None:
    loaded = load_checkpoint(upstream_pth, vocab_from=corpus_file)
    assert loaded.kind == "upstream"
    assert loaded.model.config.n_head == tiny_model.config.n_head
    assert loaded.model.config.block_size == tiny_model.config.block_size
    assert same_weights(loaded.model, tiny_model)


def test_wrapped_and_compiled_state_dicts_load(tmp_path: Path, tiny_model, corpus_file: Path) -> None:
    path = tmp_path / "wrapped.pth"
    sd = {f"_orig_mod.{k}": v for k, v in upstream_state_dict(tiny_model).items()}
    torch.save({"model": sd, "step": 3}, path)
    assert same_weights(load_checkpoint(path, corpus_file).model, tiny_model)


def test_bfloat16_file_keeps_its_dtype_on_record(tmp_path: Path, tiny_model, tiny_tokenizer) -> None:
    path = save_checkpoint(tmp_path / "bf16.safetensors", tiny_model, tiny_tokenizer, dtype=torch.bfloat16)
    fp32 = save_checkpoint(tmp_path / "fp32.safetensors", tiny_model, tiny_tokenizer)
    loaded = load_checkpoint(path)
    assert loaded.stored_dtype == "bfloat16"
    assert path.stat().st_size < 0.6 * fp32.stat().st_size


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path, tiny_model, tiny_tokenizer, monkeypatch) -> None:
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, tiny_tokenizer)
    before = path.read_bytes()

    def crash(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, tiny_model, tiny_tokenizer, dtype=torch.float16)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


# ---- every user-caused failure: one line, names the file


def assert_one_line(err: CheckpointError, path: Path, *words: str) -> None:
    msg = str(err)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg, msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "nope.safetensors")
    assert_one_line(e.value, tmp_path / "nope.safetensors", "not found")


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e.value, path, "not a checkpoint")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_safetensors(tiny_checkpoint: Path, keep: float) -> None:
    data = tiny_checkpoint.read_bytes()
    tiny_checkpoint.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tiny_checkpoint)
    assert_one_line(e.value, tiny_checkpoint)


def test_truncated_pth(upstream_pth: Path, corpus_file: Path) -> None:
    data = upstream_pth.read_bytes()
    upstream_pth.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(upstream_pth, corpus_file)
    assert_one_line(e.value, upstream_pth, "corrupt")


def test_wrong_key_layout(tmp_path: Path, corpus_file: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, corpus_file)
    assert_one_line(e.value, path, "not a BabyGPT or nanoGPT model", "supported")


def test_shape_mismatch(tmp_path: Path, tiny_model, corpus_file: Path) -> None:
    sd = upstream_state_dict(tiny_model)
    sd["blocks.1.ffwd.net.2.weight"] = torch.zeros(5, 5)
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, corpus_file)
    assert_one_line(e.value, path, "do not fit")


def test_vocab_mismatch_names_both_numbers(upstream_pth: Path, tmp_path: Path, tiny_tokenizer) -> None:
    other = tmp_path / "other.txt"
    other.write_text("abc", encoding="utf-8")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(upstream_pth, other)
    assert_one_line(e.value, upstream_pth, str(tiny_tokenizer.vocab_size), "3")


def test_upstream_without_corpus_says_how_to_fix(upstream_pth: Path) -> None:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(upstream_pth)
    assert_one_line(e.value, upstream_pth, "--vocab-from")


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/babygpt-tui-pwned",))


def test_pickle_that_would_run_code_is_refused(tmp_path: Path, corpus_file: Path) -> None:
    marker = Path("/tmp/babygpt-tui-pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.pth"
    torch.save({"token_embedding_table.weight": Exploit()}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, corpus_file)
    assert_one_line(e.value, path, "refused")
    assert not marker.exists()


def test_nan_weights_are_reported_as_corrupt(tmp_path: Path, tiny_model, tiny_tokenizer) -> None:
    with torch.no_grad():
        tiny_model.lm_head.weight[0, 0] = float("nan")
    path = save_checkpoint(tmp_path / "nan.safetensors", tiny_model, tiny_tokenizer)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert_one_line(e.value, path, "NaN")


def test_a_safetensors_header_length_ending_in_0x80_is_not_taken_for_a_pickle(
    tmp_path: Path, tiny_model, tiny_tokenizer
) -> None:
    # The first byte of a safetensors file is the low byte of its header length: 0x80, the pickle
    # PROTO opcode, in 1 of 256 files (a converted tutorial model hit it).
    path = tmp_path / "m.safetensors"
    for pad in range(300):
        save_checkpoint(path, tiny_model, tiny_tokenizer, extra={"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    loaded = load_checkpoint(path)
    assert loaded.kind == "native" and same_weights(loaded.model, tiny_model)


def test_loading_and_generating_leave_torch_dynamo_unimported(
    tiny_checkpoint: Path, upstream_pth: Path, corpus_file: Path
) -> None:
    """PyTorch's init of an embedding on the meta device imports torch._dynamo (a second of every
    launch); a load builds its model there, so the model must not run that init."""
    import subprocess
    import sys

    runs = [
        ["--model", str(tiny_checkpoint)],
        ["--model", str(upstream_pth), "--vocab-from", str(corpus_file)],  # a tutorial model.pth
    ]
    script = "import sys\nfrom babygpt_tui.cli import main\n"
    for run in runs:
        script += f"assert main(['generate', *{run!r}, '--prompt', '明', '--max-new-tokens', '3']) == 0\n"
    script += "print('torch._dynamo' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
