"""`babygpt-tui generate`: stream text to stdout (stats to stderr), or JSON lines with --json."""

from __future__ import annotations

import argparse
import json
import sys

from ..api import GenerationRequest, GenStats
from ..errors import UserError
from .common import load_generator, seed_of, settings_from_args


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.top_alternatives < 0:
        raise UserError(f"--top-alternatives = {args.top_alternatives} must be 0 or more")
    gen = load_generator(args, settings)
    request = GenerationRequest(
        prompt=args.prompt,
        params=settings.sampling,
        seed=seed_of(settings),
        context_keep=settings.context_keep,
        top_alternatives=args.top_alternatives if args.json else 0,
        stop=settings.stop,
    )
    run = gen.stream(request)
    out = sys.stdout
    if run.skipped_chars and not args.json:
        print(f"note: skipped characters not in the model's vocabulary: {' '.join(run.skipped_chars)}", file=sys.stderr)
    if run.prompt_cropped and not args.json:
        print(f"note: prompt cropped to its last {gen.block_size} characters (the context window)", file=sys.stderr)
    if not args.json and out.isatty():
        out.write(args.prompt)
    interrupted = False
    try:
        for ev in run:
            if args.json:
                record = {"id": ev.id, "text": ev.text, "logprob": round(ev.logprob, 6), "position": ev.position}
                if request.top_alternatives:
                    record["top"] = [[a.text, round(a.prob, 6)] for a in ev.top_raw]
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                out.write(ev.text)
            out.flush()
    except KeyboardInterrupt:
        interrupted = True  # the text so far is already flushed; report and exit 130
    stats = run.stats
    assert stats is not None
    if args.json:
        out.write(json.dumps(_summary(stats, interrupted), ensure_ascii=False) + "\n")
    else:
        out.write("\n")
        print(_stats_line(stats, interrupted), file=sys.stderr)
    out.flush()
    return 130 if interrupted else 0


def _summary(stats: GenStats, interrupted: bool) -> dict:
    return {
        "done": True,
        "tokens": stats.tokens,
        "prompt_tokens": stats.prompt_tokens,
        "prefill_ms": round(stats.prefill_ms, 3),
        "decode_tokens_per_s": round(stats.decode_tokens_per_s, 2),
        "stop_reason": "stopped" if interrupted else stats.stop_reason,
        "seed": stats.seed,
        "cache_shifts": stats.shifts,
        "skipped_chars": list(stats.skipped_chars),
        "prompt_cropped": stats.prompt_cropped,
    }


def _stats_line(stats: GenStats, interrupted: bool) -> str:
    reason = "stopped" if interrupted else stats.stop_reason
    return (
        f"[{stats.tokens} tokens, prefill {stats.prefill_ms:.1f} ms, decode {stats.decode_tokens_per_s:.1f} tok/s, "
        f"seed {stats.seed}, {reason}]"
    )
