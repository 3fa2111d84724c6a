"""The training loop: AdamW with warm-up + cosine decay, gradient clipping and accumulation,
mixed precision, a poem-level validation split, and resumable state written at every eval.

Batches: micro-batch `g` of step `i` is drawn from a seed derived from (seed, i, g), and with N
processes rank r draws micro-batches r*K/N ... (r+1)*K/N - 1 of the K per step. So every rank
samples its own batches, the effective batch is K micro-batches whatever N is, and a resumed run
draws exactly the batches an uninterrupted one would have — with any number of processes.

The learning-rate schedule runs over `max_iters` or, with a time budget, over wall time, so a
"train for 2 hours" run still decays to its minimum at the end.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..checkpoint import save_checkpoint
from ..data import read_corpus, train_val_split
from ..device import resolve_device
from ..errors import DataError
from ..model import BabyGPT
from ..score import score_ids
from ..tokenizer import CharTokenizer
from . import world as worlds
from .config import TrainConfig
from .files import as_os_error, check_out, metrics_path, resume_path, write_error
from .metrics import MetricsLog
from .precision import make_optimizer, maybe_compile, measure_peak_flops, resolve_precision, train_flops_per_token
from .resume import ResumeState, read_resume, restore_optimizer, write_resume
from .sample import default_prompt, sample_text

LOG_EVERY = 10  # steps between progress reports / metrics lines


class Diverged(DataError):
    """The loss became inf or NaN: stop before anything non-finite is saved."""


@dataclass(frozen=True, slots=True)
class Progress:
    """What the display shows after each logged step (rank 0 only)."""

    iter: int
    max_iters: int | None
    train_loss: float
    val_loss: float | None  # at evals
    best_val: float
    lr: float
    tokens_per_s: float
    mfu: float | None  # fraction of the device's measured matmul peak
    elapsed_s: float
    fraction: float  # of the schedule done, 0..1
    sample: str | None = None  # at evals: the fixed prompt and what the model wrote after it
    saved: bool = False  # the model file was written at this eval (validation improved)


def loss_of(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    _, loss = module(x, y)
    if not isinstance(loss, torch.Tensor):  # forward with targets always returns the loss
        raise TypeError(f"{type(module).__name__}.forward returned no loss")
    return loss


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from the run's seed and a position (step, micro-batch, purpose)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class Trainer:
    def __init__(self, cfg: TrainConfig, report: Callable[[Progress], None] | None = None) -> None:
        cfg.validate()
        self.cfg, self.report = cfg, report or (lambda p: None)
        self.after_step: Callable[[Trainer], None] | None = None  # every rank, after every step
        self.written: set[Path] = set()  # files this process wrote
        self.world = worlds.world_from_env()
        self.device = worlds.rank_device(self.world, resolve_device(cfg.device))
        self.precision = resolve_precision(cfg.dtype, self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        text = read_corpus(cfg.data)
        self.tokenizer = CharTokenizer.from_text(text)
        train_text, val_text = train_val_split(text, cfg.val_fraction, cfg.seed)
        enc = self.tokenizer.encode
        self.train_data = torch.tensor(enc(train_text).ids, dtype=torch.long)
        self.val_ids = enc(val_text).ids
        self.val_data = torch.tensor(self.val_ids, dtype=torch.long)
        self.sample_prompt = cfg.sample_prompt if cfg.sample_prompt is not None else default_prompt(text)
        self.mcfg = cfg.model_config(self.tokenizer.vocab_size)
        block = self.mcfg.block_size
        if len(self.train_data) <= block:
            raise DataError(
                f"{cfg.data}: training text has {len(self.train_data)} characters, fewer than "
                f"block_size + 1 = {block + 1}; use more text or a smaller --block-size"
            )
        if len(self.val_data) < 2:
            raise DataError(f"{cfg.data}: validation split is too short to measure a loss; use more text")
        self.out = check_out(Path(cfg.out), cfg.resume)
        saved = self._read_resume() if cfg.resume else None
        self.grad_accum = self._grad_accum(saved)
        # Everything above fails the same way on every rank (rank 0 prints it); join only now.
        self.sync = worlds.join(self.world, self.device)
        self.metrics = MetricsLog(metrics_path(self.out))
        self.sync.on_main(lambda: self.metrics.rewind(saved.iter) if saved else self.metrics.start_fresh())

        torch.manual_seed(derive_seed(cfg.seed, "init"))
        self.model = BabyGPT(self.mcfg)
        self.model.init_weights(cfg.seed)
        self.model.to(self.device)
        self.opt = make_optimizer(self.model, cfg, self.device)
        self.scaler = self.precision.scaler()
        self.iter, self.elapsed, self.tokens_seen = 0, 0.0, 0
        self.best_val = float("inf")
        self.saved_iter = 0
        # `stop_asked` is set by a signal handler at any moment; `stop_requested` only from the
        # step's all-reduce, so every rank leaves the loop at the same step.
        self.stop_asked = False
        self.stop_requested = False
        if saved is not None:
            self._restore(saved)
        self.ddp = worlds.wrap(self.model, self.world, self.device)
        self.step_module = maybe_compile(self.ddp, cfg.compile)
        self.flops_per_token = train_flops_per_token(self.model)
        self.peak_flops: float | None = None

    # -- setup

    def _read_resume(self) -> ResumeState:
        path = resume_path(self.out)
        state = read_resume(path)
        if replace(state.model_config, dropout=self.mcfg.dropout) != self.mcfg:
            raise DataError(
                f"{path}: was trained with other dimensions ({state.model_config}); use the same flags to resume"
            )
        if state.vocab != self.tokenizer.chars:
            raise DataError(f"{path}: was trained on a corpus with another vocabulary; use the same --data")
        return state

    def _grad_accum(self, saved: ResumeState | None) -> int:
        given = self.cfg.grad_accum
        k = given or (saved.grad_accum if saved and saved.grad_accum else None) or self.world.size
        if k % self.world.size:
            why = "" if given else f" (the resumed run used {k}; keep the effective batch with --grad-accum)"
            raise DataError(
                f"--grad-accum {k} is not a multiple of the {self.world.size} processes{why}; "
                f"use --grad-accum {-(-k // self.world.size) * self.world.size} or another process count"
            )
        return k

    def _restore(self, saved: ResumeState) -> None:
        path = resume_path(self.out)
        try:
            self.model.load_state_dict(saved.model)
        except RuntimeError as e:
            raise DataError(f"{path}: weights do not fit the model ({str(e).splitlines()[0][:150]})") from None
        restore_optimizer(self.opt, saved.opt, path)
        if saved.scaler and self.scaler.is_enabled():
            self.scaler.load_state_dict(saved.scaler)
        self.iter, self.elapsed, self.tokens_seen = saved.iter, saved.elapsed, saved.tokens_seen
        self.best_val, self.saved_iter = saved.best_val, saved.iter

    # -- schedule and batches

    def fraction_done(self) -> float:
        parts = []
        if self.cfg.max_iters:
            parts.append(self.iter / self.cfg.max_iters)
        if self.cfg.max_minutes:
            parts.append(self.elapsed / (self.cfg.max_minutes * 60))
        return min(1.0, max(parts))

    def lr_now(self) -> float:
        cfg = self.cfg
        if self.iter < cfg.warmup_iters:
            return cfg.lr * (self.iter + 1) / cfg.warmup_iters
        cosine = 0.5 * (1 + math.cos(math.pi * self.fraction_done()))
        return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)

    def batch(self, data: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        block = self.mcfg.block_size
        ix = torch.randint(len(data) - block, (self.cfg.batch_size,), generator=gen)
        x = torch.stack([data[i : i + block] for i in ix])
        y = torch.stack([data[i + 1 : i + block + 1] for i in ix])
        return x.to(self.device), y.to(self.device)

    @property
    def tokens_per_step(self) -> int:
        return self.cfg.batch_size * self.mcfg.block_size * self.grad_accum

    @torch.no_grad()
    def estimate_val(self) -> float:
        """Mean loss on the same random validation windows every time (a fixed seed), so
        successive evals are comparable."""
        self.model.eval()
        try:
            if len(self.val_data) > self.mcfg.block_size:
                gen = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "val"))
                losses = []
                for _ in range(self.cfg.eval_iters):
                    with self.precision.autocast():
                        losses.append(float(loss_of(self.model, *self.batch(self.val_data, gen))))
                return sum(losses) / len(losses)
            return score_ids(self.model, self.val_ids).nll
        finally:
            self.model.train()

    # -- the loop

    def done(self) -> bool:
        return self.stop_requested or self.fraction_done() >= 1.0

    def request_stop(self, *_: object) -> None:
        """Stop after the current step (safe to call from a signal handler or a report)."""
        self.stop_asked = True

    def _step(self) -> torch.Tensor:
        """One optimizer step over this rank's micro-batches; their mean loss (a tensor)."""
        local = self.grad_accum // self.world.size
        total = torch.zeros((), device=self.device)
        for m in range(local):
            g = self.world.rank * local + m  # the micro-batch's index among all ranks'
            seed = derive_seed(self.cfg.seed, self.iter, g)
            torch.manual_seed(seed)  # dropout masks, too, follow the step, not the process
            x, y = self.batch(self.train_data, torch.Generator().manual_seed(seed))
            # Gradients are all-reduced in the last micro-batch's backward only.
            with worlds.no_sync(self.ddp, skip=m < local - 1):
                with self.precision.autocast():
                    loss = loss_of(self.step_module, x, y)
                # torch.autograd.backward: Tensor.backward has no type hints
                torch.autograd.backward(self.scaler.scale(loss / local))
            total += loss.detach().float()
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        return total / local

    def run(self) -> Path:
        cfg = self.cfg
        self.model.train()
        if self.world.is_main:
            self.peak_flops = measure_peak_flops(self.precision)
        window_t, window_tokens = time.perf_counter(), 0
        while not self.done():
            t = time.perf_counter()
            lr = self.lr_now()
            for group in self.opt.param_groups:
                group["lr"] = lr
            loss_t = self._step()
            self.iter += 1
            self.tokens_seen += self.tokens_per_step
            window_tokens += self.tokens_per_step
            planned_eval = self.iter % cfg.eval_interval == 0 or self.iter == cfg.max_iters
            at_log = self.iter % LOG_EVERY == 0 or planned_eval
            # Reading the loss waits for the device: only at log steps.
            local_loss = float(loss_t) if at_log else None
            self.stop_requested, self.elapsed, loss = self.sync.step(
                self.stop_asked, self.elapsed + time.perf_counter() - t, local_loss
            )
            if self.after_step:
                self.after_step(self)
            at_eval = planned_eval or self.done()
            if at_eval and loss is None:  # stopped (Ctrl+C, time budget) between log steps
                _, _, loss = self.sync.step(False, self.elapsed, float(loss_t))
            if loss is None:
                continue
            self._check_finite("training", loss, lr)
            now = time.perf_counter()
            rate = window_tokens / max(now - window_t, 1e-9)
            self.sync.on_main(functools.partial(self._log, loss, lr, rate, at_eval))
            window_t, window_tokens = time.perf_counter(), 0
        return self.out

    def _check_finite(self, which: str, loss: float, lr: float) -> None:
        if math.isfinite(loss):
            return
        saved = f"the last saved state is at iteration {self.saved_iter}" if self.saved_iter else "nothing was saved"
        raise Diverged(
            f"iteration {self.iter}: the {which} loss is {loss} (not finite): the run diverged and stopped; "
            f"{saved}. Start again with a lower --lr (this step's was {lr:.3g}) or more --warmup-iters"
        )

    def _checked_val(self, lr: float) -> float:
        val = self.estimate_val()
        self._check_finite("validation", val, lr)
        return val

    def _log(self, loss: float, lr: float, rate: float, at_eval: bool) -> None:
        """Rank 0: evaluate and save at evals, append to metrics.jsonl, report."""
        val, sample, saved = None, None, False
        if at_eval:
            val = self._checked_val(lr)
            saved = self._save(val)
            if self.cfg.sample_chars:
                seed = derive_seed(self.cfg.seed, "sample")
                sample = self.sample_prompt + sample_text(
                    self.model, self.tokenizer, self.sample_prompt, self.cfg.sample_chars, seed, self.device
                )
        mfu = rate * self.flops_per_token / (self.world.size * self.peak_flops) if self.peak_flops else None
        record: dict[str, object] = {
            "iter": self.iter,
            "train_loss": round(loss, 4),
            "val_loss": None if val is None else round(val, 4),
            "lr": lr,
            "tokens_per_s": round(rate, 1),
            "mfu": None if mfu is None else round(mfu, 4),
            "elapsed_s": round(self.elapsed, 1),
            "tokens_seen": self.tokens_seen,
        }
        if sample is not None:
            record["sample"] = sample
        self.metrics.append(record, self.saved_iter)
        self.written.add(self.metrics.path)
        self.report(
            Progress(
                self.iter,
                self.cfg.max_iters,
                loss,
                val,
                self.best_val,
                lr,
                rate,
                mfu,
                self.elapsed,
                self.fraction_done(),
                sample,
                saved,
            )
        )

    # -- persistence (rank 0)

    def _save(self, val_loss: float) -> bool:
        """Write the model file when validation improved, and the resume state every time.
        Returns whether the model file was written."""
        improved = val_loss < self.best_val
        if improved:
            meta = {
                "train": json.dumps(
                    {
                        "iter": self.iter,
                        "tokens_seen": self.tokens_seen,
                        "elapsed_s": round(self.elapsed, 1),
                        "val_loss": round(val_loss, 4),
                        "data": Path(self.cfg.data).name,
                        "seed": self.cfg.seed,
                        "val_fraction": self.cfg.val_fraction,
                        "world_size": self.world.size,
                        "grad_accum": self.grad_accum,
                        "dtype": self.precision.name,
                    }
                )
            }
            try:
                save_checkpoint(self.out, self.model, self.tokenizer, extra=meta)
            except Exception as e:  # safetensors wraps I/O errors in its own type
                if (os_error := as_os_error(e)) is None:
                    raise
                raise write_error(self.out, os_error, self.saved_iter) from None
            self.written.add(self.out)
        state = ResumeState(
            model=self.model.state_dict(),
            opt=self.opt.state_dict(),
            iter=self.iter,
            elapsed=self.elapsed,
            tokens_seen=self.tokens_seen,
            best_val=min(val_loss, self.best_val),
            model_config=self.mcfg,
            vocab=self.tokenizer.chars,
            grad_accum=self.grad_accum,
            scaler=self.scaler.state_dict() if self.scaler.is_enabled() else None,
        )
        write_resume(resume_path(self.out), state, self.world.size, self.saved_iter)
        self.written.add(resume_path(self.out))
        self.best_val, self.saved_iter = state.best_val, self.iter
        return improved

    def close(self) -> None:
        worlds.leave(self.world)
