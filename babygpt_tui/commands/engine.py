"""`babygpt-tui engine --stdio`: the engine process the TUI starts (see engine/server.py for the
protocol). Run it by hand to watch or debug the protocol: type one JSON request per line."""

from __future__ import annotations

import argparse

from ..errors import UserError


def run(args: argparse.Namespace) -> int:
    from ..engine.server import load_model, serve_stdio

    if not args.stdio:
        raise UserError("the engine speaks only over stdin/stdout for now: pass --stdio")
    if args.token_delay < 0:
        raise UserError(f"--token-delay = {args.token_delay} must be 0 or more")
    return serve_stdio(load_model, token_delay=args.token_delay)
