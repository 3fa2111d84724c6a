"""`babygpt-tui train`: train here, launch N data-parallel processes (--nproc), or redraw a
finished run's loss curve (--plot metrics.jsonl).

Under torchrun (or --nproc) only rank 0 prints and writes; the other ranks train in silence and
exit with the same code.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..engine.train import AgreedFailure, Progress, TrainConfig, Trainer, install_signal_handlers, world_from_env
from ..engine.train.files import PLOT_NAME, metrics_path, plot_path
from ..errors import UserError
from .loss_plot import LossCurve, MetricsError, read_metrics, terminal_chart, write_svg
from .train_card import CardFacts, write_card
from .train_display import PlainLines, live_display

STOPPED = 130
FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    if not args.data or not args.out:
        raise UserError("train needs --data CORPUS and --out MODEL.safetensors (or --plot METRICS.jsonl)")
    given = {k: getattr(args, k) for k in FIELDS if getattr(args, k, None) is not None}
    return TrainConfig(**given)


def run(args: argparse.Namespace) -> int:
    if args.plot:
        return plot(Path(args.plot))
    cfg = config_from_args(args)
    if args.nproc is not None:
        from .train_launch import launch

        return launch(cfg, args.nproc, args.quiet)
    if not world_from_env().is_main:
        return _train_silently(cfg)
    return _train(cfg, quiet=args.quiet)


def _train_silently(cfg: TrainConfig) -> int:
    """Ranks other than 0: rank 0 prints every error (they are the same everywhere)."""
    trainer = None
    try:
        trainer = Trainer(cfg)
        install_signal_handlers(trainer)
        trainer.run()
    except AgreedFailure:
        return 0  # rank 0 prints it and exits 2; exiting non-zero first would get it killed unheard
    except UserError:
        return 2
    finally:
        if trainer is not None:
            trainer.close()
    return STOPPED if trainer.stop_requested else 0


def _train(cfg: TrainConfig, quiet: bool) -> int:
    console = Console(stderr=True)
    trainer = Trainer(cfg)
    last_eval: list[Progress] = []
    try:
        install_signal_handlers(trainer)
        console.print(_header(trainer), highlight=False, markup=False, soft_wrap=True)

        def remember(p: Progress, show: Callable[[Progress], None]) -> None:
            if p.val_loss is not None:
                last_eval[:] = [p]
            show(p)

        if console.is_terminal and not quiet:
            with live_display(console, _earlier_curve(trainer)) as show:
                trainer.report = lambda p: remember(p, show)
                trainer.run()
        else:
            plain = PlainLines(console)
            trainer.report = lambda p: remember(p, plain)
            trainer.run()
    finally:
        trainer.close()
    _finish(trainer, console, last_eval[0] if last_eval else None)
    if trainer.stop_requested:
        console.print(
            f"stopped at iteration {trainer.iter:,}; continue with the same command plus --resume", highlight=False
        )
        return STOPPED
    return 0


def _earlier_curve(trainer: Trainer) -> LossCurve | None:
    """On --resume, the curve so far (the metrics file was rewound to the resumed step)."""
    if not trainer.cfg.resume or not trainer.iter:
        return None
    try:
        return read_metrics(metrics_path(trainer.out))
    except MetricsError:
        return None  # no usable metrics: the chart starts at the resumed step


def _header(t: Trainer) -> str:
    m = t.mcfg
    procs = f"{t.world.size} processes × " if t.world.distributed else ""
    return (
        f"training {m.n_layer} layer{'s' if m.n_layer > 1 else ''} x {m.n_embd} wide x {m.n_head} heads, "
        f"block {m.block_size}, "
        f"vocab {m.vocab_size}: {t.model.num_params():,} parameters on {procs}{t.device} ({t.precision.name}), "
        f"batch {t.cfg.batch_size} x {t.grad_accum} micro-batches, "
        f"{len(t.train_data):,} train / {len(t.val_data):,} val characters"
        + (f"; resuming at iteration {t.iter}" if t.cfg.resume else "")
    )


def _finish(trainer: Trainer, console: Console, last_eval: Progress | None) -> None:
    """The loss curve and model card next to the model, and where everything is."""
    if not trainer.out.exists() or trainer.best_val == float("inf"):
        return
    curve = read_metrics(metrics_path(trainer.out))
    svg = write_svg(curve, plot_path(trainer.out), title=trainer.out.name)
    sample = last_eval.sample if last_eval else None
    card = write_card(trainer, CardFacts(curve, svg, sample))
    console.print(
        f"best val loss {trainer.best_val:.4f} nats/char; model: {trainer.out}\n"
        f"loss curve: {svg}; model card: {card}; metrics: {metrics_path(trainer.out)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def plot(path: Path) -> int:
    """Redraw a run's curve: in the terminal (stdout), and as loss.svg next to the metrics."""
    curve = read_metrics(path)
    console = Console()
    height = max(10, min(30, console.size.height - 4)) if console.is_terminal else 20
    console.print(Text.from_ansi(terminal_chart(curve, console.width, height, color=console.is_terminal).rstrip("\n")))
    last = curve.val[-1] if curve.val else None
    note = f"; last val {last[1]:.4f} at iteration {last[0]:,}" if last else ""
    skipped = f"; {curve.skipped} lines were not records" if curve.skipped else ""
    svg = write_svg(curve, path.with_name(PLOT_NAME), title=path.parent.name or path.name)
    Console(stderr=True).print(f"{len(curve.train):,} steps{note}{skipped}; wrote {svg}", highlight=False, markup=False)
    return 0
