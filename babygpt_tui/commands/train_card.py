"""The model card written next to a trained model: what it is, how it was trained, its loss curve
(`loss.svg`) and its last sample. Rewritten at the end of every run, resumed ones included."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from ..atomic import write_atomic
from ..engine.train import Trainer
from ..errors import UserError
from .loss_plot import LossCurve
from .train_launch import child_argv


@dataclass(frozen=True)
class CardFacts:
    """What the card says beyond the trainer's own state."""

    curve: LossCurve
    svg: Path | None
    sample: str | None  # the last eval's (prompt included)


def card_path(out: Path) -> Path:
    path = out.with_suffix(".md")
    return path if path != out else out.with_name(out.name + ".md")


def card_text(trainer: Trainer, facts: CardFacts) -> str:
    cfg, m, t = trainer.cfg, trainer.mcfg, trainer
    best = min(facts.curve.val, key=lambda point: point[1], default=None)
    tokens = f"{t.tokens_seen:,} tokens seen ({t.iter:,} iterations × {t.tokens_per_step:,} tokens)"
    command = shlex.join(["babygpt-tui", "train", *child_argv(replace(cfg, resume=False), quiet=False)])
    rows = [
        ("file", f"`{t.out.name}`"),
        ("dimensions", f"{m.n_layer} layers × {m.n_embd} wide × {m.n_head} heads, block_size {m.block_size}"),
        ("parameters", f"{t.model.num_params():,}"),
        ("vocabulary", f"{m.vocab_size:,} characters = `sorted(set(corpus))` of `{Path(cfg.data).name}`"),
        (
            "data",
            f"`{Path(cfg.data).name}`: {len(t.train_data):,} train / {len(t.val_data):,} validation characters, "
            f"split by poem ({cfg.val_fraction:g} to validation, seed {cfg.seed})",
        ),
        ("training", f"{tokens}; batch {cfg.batch_size} × {t.grad_accum} micro-batches per step"),
        ("optimiser", f"AdamW, lr {cfg.lr:g} (warm-up {cfg.warmup_iters}, cosine decay), dropout {cfg.dropout:g}"),
        ("processes", f"{t.world.size} on {t.device} ({t.precision.name})"),
        ("time", f"{t.elapsed / 60:.1f} min of training steps"),
    ]
    if best is not None:
        rows.append(("best validation loss", f"**{best[1]:.4f}** nats/char at iteration {best[0]:,}"))
    lines = [
        f"# {t.out.stem}",
        "",
        "A character-level BabyGPT trained from scratch by `babygpt-tui train`.",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
    ]
    if facts.svg is not None:
        lines += ["## Loss", "", f"![training and validation loss]({facts.svg.name})", ""]
    if facts.sample is not None:
        lines += ["## Sample at the last eval", "", "```", facts.sample, "```", ""]
    lines += ["## How it was trained", "", "```bash", command, "```", ""]
    return "\n".join(lines)


def write_card(trainer: Trainer, facts: CardFacts) -> Path:
    path = card_path(trainer.out)
    try:
        write_atomic(path, card_text(trainer, facts).encode("utf-8"))
    except OSError as e:
        raise UserError(f"{path}: cannot write the model card ({e.strerror})") from None
    return path
