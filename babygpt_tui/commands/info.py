"""`babygpt-tui info`: what a model file is."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ..escape import escape_controls, json_dumps_safe
from .common import load_generator


def run(args: argparse.Namespace) -> int:
    gen = load_generator(args)
    info = gen.info
    if args.json:
        print(json_dumps_safe(asdict(info) | {"exact": gen.exact}, indent=2))
        return 0
    rows = [
        ("file", info.path),
        ("file size", f"{info.file_size / 1e6:.1f} MB"),
        ("sha256", info.sha256),
        ("layout", info.layout_description),
        ("parameters", f"{info.n_params:,}"),
        ("vocabulary", f"{info.vocab_size:,} characters"),
        ("context (block_size)", str(info.block_size)),
        ("layers x width x heads", f"{info.n_layer} x {info.n_embd} x {info.n_head}"),
        ("stored dtype", gen.stored_dtype),
        ("runs as", f"{info.dtype} on {info.device}, {info.threads} threads" + (", exact" if gen.exact else "")),
    ]
    trained = gen.metadata.get("train")
    if trained:
        rows.append(("training", trained))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {escape_controls(value)}")  # paths and metadata come from files
    return 0
