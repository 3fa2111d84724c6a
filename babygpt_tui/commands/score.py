"""`babygpt-tui score`: mean NLL per character (nats) and perplexity of a text under a model."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.progress import Progress

from ..engine.data import read_corpus, train_val_split
from ..engine.score import Score, default_stride, score_ids
from ..errors import UserError
from ..escape import escape_controls
from .common import load_generator


def run(args: argparse.Namespace) -> int:
    if args.stride is not None and args.stride < 1:  # before the model loads: no need to wait for it
        raise UserError(f"--stride = {args.stride} must be at least 1 (default: half the model's block_size)")
    text = read_corpus(args.file, flag="score FILE")
    if args.split != "all":
        train, val = train_val_split(text, args.val_fraction, args.split_seed)
        text = val if args.split == "val" else train
    # Scores are compared across runs and with the model card: float32 unless --dtype says otherwise.
    gen = load_generator(args, dtype=args.dtype or "float32")
    block = gen.block_size
    stride = default_stride(block) if args.stride is None else args.stride
    if stride > block:
        raise UserError(f"--stride = {stride} is larger than the model's block_size {block} (allowed: 1 to {block})")
    enc = gen.tokenizer.encode(text)
    skipped = sum(1 for c in text if c not in gen.tokenizer.stoi)
    if len(enc.ids) < 2:
        raise UserError(f"{args.file}: fewer than 2 characters the model knows; nothing to score")
    console = Console(stderr=True)
    if console.is_terminal and not args.json:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("scoring", total=1)
            result = score_ids(gen.model, enc.ids, stride, progress=lambda d, t: bar.update(task, completed=d, total=t))
    else:
        result = score_ids(gen.model, enc.ids, stride)
    result = Score(result.nll, result.scored, skipped)
    if args.json:
        print(
            json.dumps(
                {
                    "nll": round(result.nll, 6),
                    "ppl": round(result.ppl, 4),
                    "scored": result.scored,
                    "skipped": result.skipped,
                    "stride": stride,
                    "dtype": gen.info.dtype,
                }
            )
        )
    else:
        print(
            f"nll {result.nll:.4f} nats/char, perplexity {result.ppl:.2f} "
            f"({result.scored:,} characters scored, {result.skipped:,} skipped, stride {stride}, {gen.info.dtype})"
        )
        if enc.skipped:
            shown = escape_controls(" ".join(enc.skipped[:20])) + (" …" if len(enc.skipped) > 20 else "")
            print(f"note: characters not in the vocabulary were skipped: {shown}", file=sys.stderr)
    return 0
