"""`babygpt-tui convert`: any model this app loads -> a native .safetensors, or back to the
layout's own file (`--to pth`: the state_dict a tutorial script loads, nanoGPT's ckpt.pt)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.checkpoint import LoadedModel, load_checkpoint, save_checkpoint, save_pth
from ..engine.device import DTYPE_ALIASES, DTYPES
from ..engine.layouts import CHOICES
from ..errors import UserError

PTH_SUFFIXES = (".pth", ".pt")


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    to = args.to or ("pth" if out.suffix in PTH_SUFFIXES else "safetensors")
    if out.exists() and not args.force:
        raise UserError(f"{out}: already exists; pass --force to overwrite it or choose another -o")
    if args.layout not in CHOICES:
        raise UserError(f"--layout {args.layout!r} is unknown; use one of: {', '.join(CHOICES)}")
    dtype = None
    if args.dtype:
        name = DTYPE_ALIASES.get(args.dtype.lower(), args.dtype.lower())
        if name not in DTYPES:
            raise UserError(f"--dtype {args.dtype!r} is unknown (allowed: float32, bfloat16, float16)")
        dtype = DTYPES[name]
    loaded = load_checkpoint(args.source, args.vocab_from, args.layout)
    try:
        if to == "pth":
            save_pth(out, loaded.model, loaded.layout, dtype=dtype, dataset=loaded.metadata.get("dataset"))
        else:
            extra = _kept_metadata(loaded.metadata)
            save_checkpoint(out, loaded.model, loaded.tokenizer, dtype=dtype, extra=extra, layout=loaded.layout)
    except OSError as e:
        raise UserError(f"{out}: cannot write ({e.strerror})") from None
    cfg = loaded.model.config
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {loaded.layout.description}; {cfg.n_layer} layers x "
        f"{cfg.n_embd} x {cfg.n_head} heads, block {cfg.block_size}, vocab {cfg.vocab_size}, "
        f"{loaded.model.num_params():,} parameters"
    )
    if to == "pth":
        print(_how_to_load(loaded))
    return 0


def _how_to_load(loaded: LoadedModel) -> str:
    cfg, layout = loaded.model.config, loaded.layout
    if layout.name == "nanogpt":
        return "nanoGPT's sample.py reads it from --out_dir (with the dataset's meta.pkl in data/<dataset>/)"
    # The scripts take their sizes from module-level globals; these must match the file.
    step = int(layout.name[1:])
    sizes = {"n_embed": cfg.n_embd}
    if step >= 4:
        sizes["n_head"] = cfg.n_head
    if step >= 6:
        sizes["n_layer"] = cfg.n_layer
    if step >= 2:
        sizes["block_size"] = cfg.block_size
    shown = ", ".join(f"{k} = {v}" for k, v in sizes.items())
    return f"load it with {layout.script}'s BabyGPT class, its globals set to {shown}"


def _kept_metadata(meta: dict[str, str]) -> dict[str, str]:
    # Config, vocab and layout are rewritten by save_checkpoint; keep anything else (e.g. training info).
    return {k: v for k, v in meta.items() if k not in ("format", "format_version", "config", "vocab", "layout")}
