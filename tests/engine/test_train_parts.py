"""The parts of training on their own: exact resume, mixed precision, the resume-file parser."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babygpt_tui.engine.errors import DataError
from babygpt_tui.engine.train import TrainConfig, Trainer, resume_path
from babygpt_tui.engine.train.resume import REQUIRED, parse_resume, restore_optimizer
from tests.plugins.training import TINY_TRAIN

DIMS = dict(TINY_TRAIN, dropout=0.1, sample_chars=0)


def make(train_corpus: Path, out: Path, **kw: object) -> Trainer:
    return Trainer(TrainConfig(data=str(train_corpus), out=str(out), **{**DIMS, **kw}))  # type: ignore[arg-type]


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(train_corpus: Path, tmp_path: Path) -> None:
    # Batches and dropout masks follow (seed, step, micro-batch), so nothing but the weights,
    # the optimizer and the step has to be saved for an exact continuation.
    whole = make(train_corpus, tmp_path / "a" / "m.safetensors", max_iters=20, eval_interval=10, grad_accum=2)
    whole.run()
    first = make(train_corpus, tmp_path / "b" / "m.safetensors", max_iters=20, eval_interval=10, grad_accum=2)
    first.after_step = lambda t: t.request_stop() if t.iter == 9 else None
    first.run()
    assert first.iter == 10
    second = make(train_corpus, tmp_path / "b" / "m.safetensors", max_iters=20, eval_interval=10, resume=True)
    assert second.grad_accum == 2  # kept from the resumed run
    second.run()
    for (name, a), b in zip(whole.model.state_dict().items(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_trains_on_the_cpu(train_corpus: Path, tmp_path: Path, dtype: str) -> None:
    # float16 takes the GradScaler path; on the CPU both are slow but correct, so the code that
    # a GPU runs is exercised here too.
    losses: list[float] = []
    trainer = make(train_corpus, tmp_path / "m.safetensors", max_iters=30, eval_interval=30, dtype=dtype, dropout=0.0)
    trainer.report = lambda p: losses.append(p.train_loss)
    assert trainer.precision.name == dtype
    assert trainer.scaler.is_enabled() == (dtype == "float16")
    trainer.run()
    assert losses[-1] < losses[0]
    assert next(trainer.model.parameters()).dtype == torch.float32  # the weights stay float32
    state = torch.load(resume_path(trainer.out), weights_only=True)
    assert ("scaler" in state) == (dtype == "float16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_trains_with_autocast_fused_adamw_and_compile(train_corpus: Path, tmp_path: Path) -> None:
    losses: list[float] = []
    trainer = make(
        train_corpus, tmp_path / "m.safetensors", max_iters=30, eval_interval=30, device="cuda", compile=True
    )
    trainer.report = lambda p: losses.append(p.train_loss)
    assert trainer.precision.name in ("bfloat16", "float16")
    assert trainer.opt.defaults["fused"]
    trainer.run()
    assert losses[-1] < losses[0] and trainer.peak_flops and trainer.peak_flops > 0


@pytest.mark.skipif(not torch.backends.mps.is_available(), reason="needs Apple's MPS")
def test_mps_trains(train_corpus: Path, tmp_path: Path) -> None:
    trainer = make(train_corpus, tmp_path / "m.safetensors", max_iters=20, eval_interval=20, device="mps")
    assert trainer.device.type == "mps"
    trainer.run()
    assert trainer.iter == 20


def test_grad_accum_counts_micro_batches_per_step(train_corpus: Path, tmp_path: Path) -> None:
    trainer = make(train_corpus, tmp_path / "m.safetensors", max_iters=3, eval_interval=3, grad_accum=3)
    trainer.run()
    assert trainer.tokens_seen == 3 * 3 * 8 * 16


# -- the resume-file parser: any dict gives a ResumeState or a one-line DataError


def _valid_state(train_corpus: Path, tmp_path: Path) -> dict:
    trainer = make(train_corpus, tmp_path / "m.safetensors", max_iters=2, eval_interval=2)
    trainer.run()
    return torch.load(resume_path(trainer.out), weights_only=True)


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.just(torch.zeros(2)),
)


@pytest.fixture(scope="module")
def valid_state(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: str) -> dict:
    folder = tmp_path_factory.mktemp("resume")
    path = folder / "ci.txt"
    path.write_text(tiny_corpus * 3, encoding="utf-8")
    return _valid_state(path, folder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    drop=st.sets(st.sampled_from(sorted(REQUIRED)), max_size=2),
    changes=st.dictionaries(st.sampled_from([*sorted(REQUIRED), "grad_accum", "scaler", "other"]), VALUES, max_size=3),
)
def test_fuzzed_resume_states_parse_or_fail_in_one_line(valid_state: dict, drop: set, changes: dict) -> None:
    state = {k: v for k, v in valid_state.items() if k not in drop}
    state.update(changes)
    try:
        parsed = parse_resume(state, Path("run.resume.pt"))
    except DataError as e:
        assert "run.resume.pt" in str(e) and "\n" not in str(e)
        return
    assert parsed.iter >= 0 and parsed.elapsed >= 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["exp_avg", "exp_avg_sq", "step"]), value=VALUES)
def test_fuzzed_optimizer_states_load_or_fail_in_one_line(valid_state: dict, key: str, value: object) -> None:
    trainer_opt = _fresh_optimizer(valid_state)
    saved = copy.deepcopy(valid_state["opt"])
    saved["state"][0][key] = value
    try:
        restore_optimizer(trainer_opt, saved, Path("run.resume.pt"))
    except DataError as e:
        assert "run.resume.pt" in str(e)


def _fresh_optimizer(valid_state: dict) -> torch.optim.Optimizer:
    from babygpt_tui.engine.model import BabyGPT, ModelConfig

    model = BabyGPT(ModelConfig(**json.loads(valid_state["model_config"])))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay}, {"params": no_decay}])
