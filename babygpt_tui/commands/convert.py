"""`babygpt-tui convert`: upstream model.pth (+ corpus) or a native file -> native .safetensors."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.checkpoint import load_checkpoint, save_checkpoint
from ..engine.device import DTYPE_ALIASES, DTYPES
from ..errors import UserError


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.exists() and not args.force:
        raise UserError(f"{out}: already exists; pass --force to overwrite it or choose another -o")
    dtype = None
    if args.dtype:
        name = DTYPE_ALIASES.get(args.dtype.lower(), args.dtype.lower())
        if name not in DTYPES:
            raise UserError(f"--dtype {args.dtype!r} is unknown (allowed: float32, bfloat16, float16)")
        dtype = DTYPES[name]
    loaded = load_checkpoint(args.source, args.vocab_from)
    try:
        save_checkpoint(out, loaded.model, loaded.tokenizer, dtype=dtype, extra=_kept_metadata(loaded.metadata))
    except OSError as e:
        raise UserError(f"{out}: cannot write ({e.strerror})") from None
    cfg = loaded.model.config
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {cfg.n_layer} layers x {cfg.n_embd} x {cfg.n_head} heads, "
        f"block {cfg.block_size}, vocab {cfg.vocab_size}, {loaded.model.num_params():,} parameters"
    )
    return 0


def _kept_metadata(meta: dict) -> dict:
    # Config and vocab are rewritten by save_checkpoint; keep anything else (e.g. training info).
    return {k: v for k, v in meta.items() if k not in ("format", "format_version", "config", "vocab")}
