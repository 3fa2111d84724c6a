"""Training: AdamW with warm-up + cosine decay, gradient clipping, poem-level validation split,
resumable checkpoints (model + optimizer + step + RNG) written atomically at every eval.

The learning-rate schedule runs over `max_iters` or, with a time budget, over wall time, so a
"train for 2 hours" run still decays to its minimum at the end.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .checkpoint import save_checkpoint
from .data import read_corpus, train_val_split
from .device import resolve_device
from .errors import DataError
from .model import BabyGPT, ModelConfig
from .score import score_ids
from .tokenizer import CharTokenizer

PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(block_size=64, n_embd=64, n_layer=2, n_head=4),
    "small": dict(block_size=128, n_embd=256, n_layer=4, n_head=8),
    "base": dict(block_size=256, n_embd=384, n_layer=6, n_head=6),  # the upstream size
}


@dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str
    preset: str = "small"
    block_size: int | None = None
    n_embd: int | None = None
    n_layer: int | None = None
    n_head: int | None = None
    dropout: float = 0.1
    batch_size: int = 32
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_iters: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    max_iters: int | None = None
    max_minutes: float | None = None
    eval_interval: int = 250
    eval_iters: int = 20
    val_fraction: float = 0.05
    seed: int = 1337
    device: str = "auto"
    threads: int | None = None
    resume: bool = False

    def validate(self) -> None:
        if self.preset not in PRESETS:
            raise DataError(f"preset {self.preset!r} is unknown (allowed: {', '.join(PRESETS)})")
        positive = {
            "batch_size": self.batch_size,
            "eval_interval": self.eval_interval,
            "eval_iters": self.eval_iters,
            **{k: v for k in ("block_size", "n_embd", "n_layer", "n_head") if (v := getattr(self, k)) is not None},
        }
        for name, value in positive.items():
            if value < 1:
                raise DataError(f"--{name.replace('_', '-')} = {value} must be at least 1")
        if not self.lr > 0:
            raise DataError(f"--lr = {self.lr} must be above 0")
        if not 0 <= self.dropout < 1:
            raise DataError(f"--dropout = {self.dropout} is out of range (allowed: 0 up to below 1)")
        if self.max_iters is None and self.max_minutes is None:
            raise DataError("give --max-iters N or --max-minutes M (or both) so training knows when to stop")
        if self.max_iters is not None and self.max_iters < 1:
            raise DataError(f"--max-iters = {self.max_iters} must be at least 1")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise DataError(f"--max-minutes = {self.max_minutes} must be above 0")

    def model_config(self, vocab_size: int) -> ModelConfig:
        dims = dict(PRESETS[self.preset])
        for key in dims:
            if getattr(self, key) is not None:
                dims[key] = getattr(self, key)
        if dims["n_embd"] % dims["n_head"]:
            raise DataError(f"--n-embd {dims['n_embd']} must be divisible by --n-head {dims['n_head']}")
        return ModelConfig(vocab_size=vocab_size, dropout=self.dropout, **dims)


@dataclass
class Progress:
    """What the display shows after each logged step."""

    iter: int
    max_iters: int | None
    train_loss: float
    val_loss: float | None
    lr: float
    tokens_per_s: float
    elapsed_s: float
    fraction: float  # of the schedule done, 0..1


def resume_path(out: Path) -> Path:
    return out.with_name(out.name + ".resume.pt")


class Trainer:
    def __init__(self, cfg: TrainConfig, report: Callable[[Progress], None] | None = None) -> None:
        cfg.validate()
        self.cfg, self.report = cfg, report or (lambda p: None)
        self.out = Path(cfg.out)
        self.device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        text = read_corpus(cfg.data)
        self.tokenizer = CharTokenizer.from_text(text)
        train_text, val_text = train_val_split(text, cfg.val_fraction, cfg.seed)
        enc = self.tokenizer.encode
        self.train_data = torch.tensor(enc(train_text).ids, dtype=torch.long)
        self.val_ids = enc(val_text).ids
        self.val_data = torch.tensor(self.val_ids, dtype=torch.long)
        self.mcfg = cfg.model_config(self.tokenizer.vocab_size)
        block = self.mcfg.block_size
        if len(self.train_data) <= block:
            raise DataError(
                f"{cfg.data}: training text has {len(self.train_data)} characters, fewer than "
                f"block_size + 1 = {block + 1}; use more text or a smaller --block-size"
            )
        if len(self.val_data) < 2:
            raise DataError(f"{cfg.data}: validation split is too short to measure a loss; use more text")
        torch.manual_seed(cfg.seed)
        self.model = BabyGPT(self.mcfg)
        self.model.init_weights(cfg.seed)
        self.model.to(self.device)
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.dim() < 2]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(0.9, 0.99),
        )
        self.batch_rng = torch.Generator().manual_seed(cfg.seed)
        self.iter, self.elapsed, self.tokens_seen = 0, 0.0, 0
        self.best_val = float("inf")
        self.saved_iter = -1
        self.stop_requested = False
        self._prepare_out_dir()
        if cfg.resume:
            self._load_resume()

    def _prepare_out_dir(self) -> None:
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"{self.out.parent}: cannot create output folder ({e.strerror})") from None
        state = resume_path(self.out)
        if state.exists() and not self.cfg.resume:
            # Starting over would overwrite an earlier run's progress at the first eval.
            raise DataError(
                f"{state}: an earlier run can be resumed here; add --resume to continue it, "
                "or delete that file (or pick another --out) to start over"
            )
        if not self.cfg.resume:
            self.out.with_name("metrics.jsonl").unlink(missing_ok=True)

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

    @torch.no_grad()
    def estimate_val(self) -> float:
        """Mean loss on the same random validation windows every time (a fixed seed), so
        successive evals are comparable."""
        self.model.eval()
        if len(self.val_data) > self.mcfg.block_size:
            gen = torch.Generator().manual_seed(self.cfg.seed + 1)
            losses = [float(self.model(*self.batch(self.val_data, gen))[1]) for _ in range(self.cfg.eval_iters)]
            loss = sum(losses) / len(losses)
        else:
            loss = score_ids(self.model, self.val_ids).nll
        self.model.train()
        return loss

    # -- the loop

    def done(self) -> bool:
        return self.stop_requested or self.fraction_done() >= 1.0

    def run(self) -> Path:
        cfg = self.cfg
        self.model.train()
        tokens_per_batch = cfg.batch_size * self.mcfg.block_size
        window_t, window_tokens = time.perf_counter(), 0
        while not self.done():
            t = time.perf_counter()
            lr = self.lr_now()
            for group in self.opt.param_groups:
                group["lr"] = lr
            x, y = self.batch(self.train_data, self.batch_rng)
            _, loss = self.model(x, y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.opt.step()
            self.iter += 1
            self.tokens_seen += tokens_per_batch
            self.elapsed += time.perf_counter() - t
            window_tokens += tokens_per_batch
            val = None
            at_eval = self.iter % cfg.eval_interval == 0 or self.done()
            if at_eval:
                val = self.estimate_val()
                self.save(val)
            now = time.perf_counter()
            rate = window_tokens / max(now - window_t, 1e-9)
            if at_eval or self.iter % 10 == 0:
                train_loss = loss.item()
                self.report(
                    Progress(self.iter, cfg.max_iters, train_loss, val, lr, rate, self.elapsed, self.fraction_done())
                )
                self.log(
                    {
                        "iter": self.iter,
                        "train_loss": round(train_loss, 4),
                        "val_loss": val,
                        "lr": lr,
                        "tokens_per_s": round(rate, 1),
                        "elapsed_s": round(self.elapsed, 1),
                        "tokens_seen": self.tokens_seen,
                    }
                )
                window_t, window_tokens = now, 0
        if self.saved_iter != self.iter:  # stopped between evals: keep every finished step
            self.save(self.estimate_val())
        return self.out

    def request_stop(self, *_: object) -> None:
        self.stop_requested = True

    # -- persistence

    def log(self, record: dict) -> None:
        path = self.out.with_name("metrics.jsonl")
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def save(self, val_loss: float) -> None:
        """Write the resume state every eval; the model file only when validation improved."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.saved_iter = self.iter
        if val_loss < self.best_val:
            self.best_val = val_loss
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
                    }
                )
            }
            save_checkpoint(self.out, self.model, self.tokenizer, extra=meta)
        state = {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "iter": self.iter,
            "elapsed": self.elapsed,
            "tokens_seen": self.tokens_seen,
            "best_val": self.best_val,
            "batch_rng": self.batch_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": list(random.getstate()[1]),
            "model_config": json.dumps(self.mcfg.to_dict()),
            "vocab": json.dumps(self.tokenizer.chars, ensure_ascii=False),
        }
        path = resume_path(self.out)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(state, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _load_resume(self) -> None:
        path = resume_path(self.out)
        if not path.exists():
            raise DataError(f"{path}: nothing to resume (no resume file next to --out); drop --resume to start fresh")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a damaged resume file is a user-visible problem, not a bug
            raise DataError(f"{path}: cannot read resume state ({str(e).splitlines()[0][:150]})") from None
        saved_cfg = ModelConfig(**json.loads(state["model_config"]))
        if replace(saved_cfg, dropout=self.mcfg.dropout) != self.mcfg:
            raise DataError(f"{path}: was trained with other dimensions ({saved_cfg}); use the same flags to resume")
        if json.loads(state["vocab"]) != self.tokenizer.chars:
            raise DataError(f"{path}: was trained on a corpus with another vocabulary; use the same --data")
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.iter, self.elapsed = int(state["iter"]), float(state["elapsed"])
        self.tokens_seen, self.best_val = int(state["tokens_seen"]), float(state["best_val"])
        self.batch_rng.set_state(state["batch_rng"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate((3, tuple(state["python_rng"]), None))


def install_signal_handlers(trainer: Trainer) -> None:
    """Ctrl+C or SIGTERM stop after the current step and save resumable state; a second
    Ctrl+C interrupts at once (the last eval's resume file is still there)."""

    def on_signal(signum: int, frame: object) -> None:
        if trainer.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        trainer.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
