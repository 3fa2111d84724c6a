"""The training loop: AdamW with warm-up + cosine decay, gradient clipping and accumulation,
mixed precision, a poem-level validation split, and resumable state written at every eval.
How batches are drawn (and why a resume with another process count is exact): batches.py.

The learning-rate schedule runs over `max_iters` or, with a time budget, over wall time, so a
"train for 2 hours" run still decays to its minimum at the end.
"""

from __future__ import annotations

import functools
import gc
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..checkpoint import save_checkpoint
from ..data import read_corpus, train_val_split
from ..device import resolve_device
from ..errors import DataError, EngineError
from ..model import BabyGPT
from ..tokenizer import CharTokenizer
from . import world as worlds
from .batches import derive_seed, draw_batch, loss_of, lr_at, validation_loss
from .config import TrainConfig
from .files import as_os_error, check_out, metrics_path, resume_path, write_error
from .metrics import MetricsLog
from .precision import make_optimizer, maybe_compile, measure_peak_flops, resolve_precision, train_flops_per_token
from .progress import Progress, diverged
from .resume import ResumeState, grad_accum_for, read_resume, restore_optimizer, write_resume
from .sample import default_prompt, sample_text

LOG_EVERY = 10  # steps between progress reports / metrics lines


class Trainer:
    def __init__(self, cfg: TrainConfig, report: Callable[[Progress], None] | None = None) -> None:
        cfg.validate()
        self.cfg, self.report = cfg, report or (lambda p: None)
        self.after_step: Callable[[Trainer], None] | None = None  # every rank, after every step
        self.written: set[Path] = set()  # files this process wrote
        self.world = worlds.world_from_env()
        failed: EngineError | None = None
        try:
            self.device = worlds.rank_device(self.world, resolve_device(cfg.device))
        except EngineError as e:
            self.device, failed = torch.device("cpu"), e
        # Every rank joins before anything else can fail, and all agree on whether setup worked:
        # a rank that failed alone and exited would get rank 0 (which prints) killed unheard.
        self.sync = worlds.join(self.world, self.device)
        try:
            saved = self.sync.together(self._setup, failed)
            self.metrics = MetricsLog(metrics_path(self.out))
            self.sync.on_main(lambda: self.metrics.rewind(saved.iter) if saved else self.metrics.start_fresh())
        except BaseException:
            # No Trainer to close: leave the group here, or gloo's threads outlive it and the
            # process aborts at exit ("terminate called…"), which gets the other ranks killed.
            worlds.leave(self.world)
            raise
        self.ddp = worlds.wrap(self.model, self.world, self.device)
        self.step_module = maybe_compile(self.ddp, cfg.compile)
        self.flops_per_token = train_flops_per_token(self.model)
        self.peak_flops: float | None = None

    # -- setup

    def _setup(self) -> ResumeState | None:
        """Data, output path, model, optimizer and resumed state; the resume state, if any."""
        cfg = self.cfg
        self.precision = resolve_precision(cfg.dtype, self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        text = read_corpus(cfg.data)
        self.tokenizer = CharTokenizer.from_text(text)
        train_text, val_text = train_val_split(text, cfg.val_fraction, cfg.seed)
        enc = self.tokenizer.encode
        self.train_data = torch.tensor(enc(train_text).ids, dtype=torch.long)
        self.val_data = torch.tensor(enc(val_text).ids, dtype=torch.long)
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
        saved = read_resume(resume_path(self.out), self.mcfg, self.tokenizer.chars) if cfg.resume else None
        self.grad_accum = grad_accum_for(cfg.grad_accum, saved, self.world.size)
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
        return saved

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

    def lr_now(self) -> float:
        return lr_at(self.cfg, self.iter, self.fraction_done())

    def batch(self, data: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return draw_batch(data, self.mcfg.block_size, self.cfg.batch_size, gen, self.device)

    def fraction_done(self) -> float:
        parts = []
        if self.cfg.max_iters:
            parts.append(self.iter / self.cfg.max_iters)
        if self.cfg.max_minutes:
            parts.append(self.elapsed / (self.cfg.max_minutes * 60))
        return min(1.0, max(parts))

    @property
    def tokens_per_step(self) -> int:
        return self.cfg.batch_size * self.mcfg.block_size * self.grad_accum

    def estimate_val(self) -> float:
        with self.precision.autocast():
            return validation_loss(self.model, self.val_data, self.cfg.eval_iters, self.cfg.batch_size, self.cfg.seed)

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
            if not math.isfinite(loss):
                raise diverged("training", loss, lr, self.iter, self.saved_iter)
            now = time.perf_counter()
            rate = window_tokens / max(now - window_t, 1e-9)
            self.sync.on_main(functools.partial(self._log, loss, lr, rate, at_eval))
            window_t, window_tokens = time.perf_counter(), 0
        return self.out

    def _checked_val(self, lr: float) -> float:
        val = self.estimate_val()
        if not math.isfinite(val):
            raise diverged("validation", val, lr, self.iter, self.saved_iter)
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
        # DDP's reducer holds the process group: drop it first, so the group is torn down here,
        # with the interpreter whole, and not by a destructor at exit, where gloo's threads still
        # running abort the process ("terminate called without an active exception" after a run
        # had finished and saved, seen twice under load) and get the other rank killed.
        self.ddp = self.step_module = self.model
        gc.collect()
        worlds.leave(self.world)
