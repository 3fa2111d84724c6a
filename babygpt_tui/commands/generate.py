"""`babygpt-tui generate`: stream text to stdout (stats to stderr), or JSON lines with --json.

The model's text comes from its vocabulary, which came from a file: on a terminal, control
characters in it are shown as escapes (a pipe or a file gets the text exactly). Every write to
stdout is checked (`cli.main` installs `output.checked_stdout`): a closed or full stdout is one
line and exit 2, never a traceback or a silently short output.

Output is written at most every `WRITE_EVERY` seconds (and at the end), not once per token: a
write to a pipe wakes its reader, and on a busy machine each wake-up cost the decode loop its core
for a while — measured on the bundled model, int8, one thread, load average ~4.4: 300–380 tok/s
into `| cat`, 460–600 into a file, three runs each, alternating. Per token, that fixed cost also
hid the dtypes' differences (issue 17: bf16 no faster than fp32 from outside)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from ..api import GenerationRequest, GenStats
from ..errors import UserError
from ..escape import MULTILINE, escape_controls, json_dumps_safe
from .common import load_generator, seed_of, settings_from_args

WRITE_EVERY = 0.02  # seconds: still a live stream to the eye (and to a reader), 50 writes a second at most


class PacedWriter:
    """Collects text and writes it out when `WRITE_EVERY` has passed since the last write."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last: float | None = None  # the first text is written at once
        self.pending: list[str] = []

    def add(self, text: str) -> None:
        self.pending.append(text)
        now = time.perf_counter()
        if self.last is None or now - self.last >= WRITE_EVERY:
            self.write_out()
            self.last = now

    def write_out(self) -> None:
        if self.pending:
            self.out.write("".join(self.pending))
            self.pending.clear()
        self.out.flush()


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.top_alternatives < 0:
        raise UserError(f"--top-alternatives = {args.top_alternatives} must be 0 or more")
    out = sys.stdout
    out.flush()  # a closed stdout (`>&-`) is reported here, before the model loads
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
    if run.skipped_chars and not args.json:
        skipped = escape_controls(" ".join(run.skipped_chars))
        print(f"note: skipped characters not in the model's vocabulary: {skipped}", file=sys.stderr)
    if run.prompt_cropped and not args.json:
        print(f"note: prompt cropped to its last {gen.block_size} characters (the context window)", file=sys.stderr)
    terminal = out.isatty()

    def shown(text: str) -> str:
        return escape_controls(text, keep=MULTILINE) if terminal else text

    if not args.json and terminal:
        out.write(shown(args.prompt))
    interrupted = False
    paced = PacedWriter(out)
    try:
        for ev in run:
            if args.json:
                record = {
                    "id": ev.id,
                    "text": ev.text,
                    "logprob": round(ev.logprob, 6),
                    "position": ev.position,
                    # the first position the model saw for this token (it moves on at a cache shift)
                    "window_start": ev.position - ev.cache_len,
                }
                if request.top_alternatives:
                    record["top"] = [[a.text, round(a.prob, 6)] for a in ev.top_raw]
                paced.add(json_dumps_safe(record) + "\n")
            else:
                paced.add(shown(ev.text))
    except KeyboardInterrupt:
        interrupted = True  # the text so far is written below; report and exit 130
    paced.write_out()
    stats = run.stats
    assert stats is not None
    if args.json:
        out.write(json_dumps_safe(_summary(stats, interrupted)) + "\n")
    else:
        out.write("\n")
        print(_stats_line(stats, interrupted), file=sys.stderr)
    out.flush()
    return 130 if interrupted else 0


def _summary(stats: GenStats, interrupted: bool) -> dict[str, Any]:
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
