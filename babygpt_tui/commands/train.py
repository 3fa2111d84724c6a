"""`babygpt-tui train`: a rich progress display on a terminal, plain log lines otherwise."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..engine.train import Progress as Step
from ..engine.train import TrainConfig, Trainer, install_signal_handlers

FLAGS = (
    "preset",
    "block_size",
    "n_embd",
    "n_layer",
    "n_head",
    "batch_size",
    "eval_interval",
    "eval_iters",
    "warmup_iters",
    "max_iters",
    "threads",
    "lr",
    "dropout",
    "max_minutes",
    "val_fraction",
    "weight_decay",
    "seed",
    "device",
    "resume",
)


def run(args: argparse.Namespace) -> int:
    given = {k: getattr(args, k) for k in FLAGS if getattr(args, k, None) is not None}
    cfg = TrainConfig(data=args.data, out=args.out, **given)
    console = Console(stderr=True)
    trainer = Trainer(cfg)
    install_signal_handlers(trainer)
    m = trainer.mcfg
    console.print(
        f"training {m.n_layer} layers x {m.n_embd} wide x {m.n_head} heads, block {m.block_size}, "
        f"vocab {m.vocab_size}: {trainer.model.num_params():,} parameters on {trainer.device}, "
        f"{len(trainer.train_data):,} train / {len(trainer.val_data):,} val characters"
        + (f"; resuming at iteration {trainer.iter}" if cfg.resume else "")
    )
    if console.is_terminal:
        _run_with_bar(trainer, console)
    else:
        trainer.report = _line_reporter(console)
        trainer.run()
    console.print(f"best val loss {trainer.best_val:.4f} nats/char; model: {trainer.out}")
    if trainer.stop_requested:
        console.print(f"stopped at iteration {trainer.iter}; continue with the same command plus --resume")
        return 130
    return 0


def _line_reporter(console: Console):
    last = [0.0]

    def report(p: Step) -> None:
        # One line per eval, and at most one every 30 s between evals, so a log file stays readable.
        if p.val_loss is None and time.monotonic() - last[0] < 30:
            return
        last[0] = time.monotonic()
        val = f" val {p.val_loss:.4f}" if p.val_loss is not None else ""
        console.print(
            f"iter {p.iter} train {p.train_loss:.4f}{val} lr {p.lr:.2e} {p.tokens_per_s:,.0f} tok/s "
            f"{p.elapsed_s / 60:.1f} min {p.fraction * 100:.1f}%",
            highlight=False,
        )
        sys.stderr.flush()

    return report


def _run_with_bar(trainer: Trainer, console: Console) -> None:
    columns = (
        TextColumn("[bold]iter {task.fields[iter]}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("train {task.fields[train]}  val {task.fields[val]}  {task.fields[rate]} tok/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("train", total=1.0, iter=trainer.iter, train="-", val="-", rate="-")
        best = ["-"]

        def report(p: Step) -> None:
            if p.val_loss is not None:
                best[0] = f"{p.val_loss:.4f}"
                bar.console.print(f"iter {p.iter}: train {p.train_loss:.4f}, val {p.val_loss:.4f}")
            bar.update(
                task,
                completed=p.fraction,
                iter=p.iter,
                train=f"{p.train_loss:.4f}",
                val=best[0],
                rate=f"{p.tokens_per_s:,.0f}",
            )

        trainer.report = report
        trainer.run()
