"""`babygpt-tui score`: mean NLL per character (nats) and perplexity of a text under a model."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.progress import Progress

from ..engine.data import read_corpus, train_val_split
from ..engine.score import Score, score_ids
from ..errors import UserError
from .common import load_generator


def run(args: argparse.Namespace) -> int:
    text = read_corpus(args.file)
    if args.split != "all":
        train, val = train_val_split(text, args.val_fraction, args.split_seed)
        text = val if args.split == "val" else train
    # Scores are compared across runs and with the model card: float32 unless --dtype says otherwise.
    gen = load_generator(args, dtype=args.dtype or "float32")
    block = gen.block_size
    stride = args.stride or block // 2
    if not 1 <= stride <= block:
        raise UserError(f"--stride = {stride} is out of range (allowed: 1 to block_size {block})")
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
            shown = " ".join(enc.skipped[:20]) + (" …" if len(enc.skipped) > 20 else "")
            print(f"note: characters not in the vocabulary were skipped: {shown}", file=sys.stderr)
    return 0
