"""Command line: `babygpt-tui` (the TUI) and its subcommands.

Torch-free at import time: each subcommand imports its implementation (and torch) only when it
runs, so `--help` is instant and the TUI can paint before the model has loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

from .api import API_KEY_ENV
from .commands.bench import BENCHMARKS
from .errors import UserError
from .escape import escape_controls
from .output import checked_stdout

# A user mistake exits with this code and a one-line message; never a traceback.
USAGE_ERROR = 2


# Model and sampling flags are accepted before and after the subcommand. In a subparser their
# default is SUPPRESS: argparse would otherwise overwrite a value given before the subcommand
# with the subparser's default None.


def _add_model_args(p: argparse.ArgumentParser, sub: bool = True, layout: bool = True) -> None:
    d = argparse.SUPPRESS if sub else None
    p.add_argument(
        "--model", default=d, help="a .safetensors or upstream model.pth (default: the bundled Song-ci model)"
    )
    p.add_argument(
        "--vocab-from", default=d, metavar="CORPUS", help="training text of an upstream model.pth (its vocab)"
    )
    p.add_argument("--device", default=d, help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--dtype",
        default=d,
        help="auto (default: the fastest here within 0.01 nats/char of float32), float32, bfloat16, float16 "
        "or int8 (int8 weights, bfloat16 activations)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=d,
        help=(
            "torch CPU threads (default: one per core for generate, score and train;"
            " one fewer for the TUI's engine and serve)"
        ),
    )
    p.add_argument(
        "--compile",
        action="store_true",
        default=d,
        help="torch.compile the decode step (needs a C++ compiler; cached on disk for the next launch)",
    )
    if not layout:  # bench times every dtype itself and reads the file's own layout
        return
    p.add_argument(
        "--layout",
        default=d,
        metavar="LAYOUT",
        help="checkpoint layout: auto (default), v1 ... v12 (BabyGPT tutorial steps) or nanogpt; a v6 file needs v6",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        default=d,
        help="float32 and --context-keep block_size-1: greedy output equals the original scripts' own generate",
    )


def _add_sampling_args(p: argparse.ArgumentParser, sub: bool = True) -> None:
    d = argparse.SUPPRESS if sub else None
    p.add_argument("--max-new-tokens", type=int, default=d)
    p.add_argument("--temperature", type=float, default=d, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=d, help="0 = off")
    p.add_argument("--top-p", type=float, default=d, help="1.0 = off")
    p.add_argument("--min-p", type=float, default=d, help="0 = off")
    p.add_argument("--repetition-penalty", type=float, default=d, help="1.0 = off")
    p.add_argument("--seed", type=int, default=d, help="fixed seed (default: random, printed)")
    p.add_argument("--context-keep", type=int, default=d, help="tokens kept when the context window is full")


def _escaped(text: str) -> str:
    from .config import unescape

    try:
        return unescape(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_stop_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stop",
        action="append",
        type=_escaped,
        default=argparse.SUPPRESS,
        metavar="STR",
        help=r"end the reply before this text (repeatable; \n, \t, \r, \\ and \uXXXX are understood)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="babygpt-tui",
        description="Chat with small character-level GPT models in the terminal. With no subcommand, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_model_args(parser, sub=False)
    _add_sampling_args(parser, sub=False)
    _add_stop_arg(parser)
    parser.add_argument(
        "--one-poem",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="end each reply at the blank line that ends a poem (default: on for the bundled model)",
    )
    parser.add_argument("--session", metavar="NAME", help="open (or create) this session at start-up")
    parser.add_argument(
        "-c",
        "--continue",
        dest="continue_last",
        action="store_true",
        default=None,
        help="open the session used last instead of a new one (config: continue_last = true)",
    )
    parser.add_argument("--config", metavar="PATH", help="config.toml to use (default: the user config path)")
    parser.add_argument(
        "--server",
        metavar="URL",
        help="chat with a model on this OpenAI-compatible server (babygpt-tui serve, llama-server, vLLM, Ollama) "
        "instead of running one here",
    )
    parser.add_argument("--api-key", metavar="KEY", help=f"the key --server wants (default: ${API_KEY_ENV})")
    parser.add_argument(
        "--remote-model", metavar="NAME", help="the model to ask --server for (default: the first it lists)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("generate", help="generate text headlessly (stream to stdout or JSON lines)")
    _add_model_args(p)
    p.add_argument("--prompt", default="", help="text to continue (default: start from a new poem)")
    _add_sampling_args(p)
    _add_stop_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object per token, then a summary")
    p.add_argument(
        "--top-alternatives", type=int, default=0, metavar="N", help="with --json: top N alternatives per token"
    )

    p = sub.add_parser("score", help="mean negative log-likelihood (nats/char) and perplexity of a text")
    p.add_argument("file", help="UTF-8 text to score")
    _add_model_args(p)
    p.add_argument("--stride", type=int, default=None, help="window stride (default: block_size // 2)")
    p.add_argument(
        "--split",
        choices=["all", "train", "val"],
        default="all",
        help="score only this side of the poem-level split that `train` uses",
    )
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--split-seed", type=int, default=1337, help="seed of the split (train's --seed)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "explain", help="why the model would write the next character: each sampler stage and the attention weights"
    )
    _add_model_args(p)
    p.add_argument("--text", required=True, help="the text the model reads")
    p.add_argument(
        "--position",
        type=int,
        default=None,
        metavar="N",
        help="explain the character after position N, counted from 0 (default: the last; -2: the one before)",
    )
    p.add_argument(
        "--window-start",
        type=int,
        default=None,
        metavar="S",
        help="the first position the model sees (default: the last block_size characters up to N; "
        "a generated character's window_start from generate --json)",
    )
    p.add_argument(
        "--top-alternatives", type=int, default=5, metavar="N", help="candidates shown per sampler stage (default: 5)"
    )
    _add_sampling_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object with every attention weight")

    p = sub.add_parser("info", help="dimensions, parameter count, vocabulary and file of a model")
    _add_model_args(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("convert", help="convert a model.pth, ckpt.pt or .safetensors to .safetensors (or back)")
    p.add_argument("source", help="model.pth, ckpt.pt or .safetensors")
    p.add_argument("--vocab-from", metavar="CORPUS", help="training text of a model.pth (or nanoGPT's meta.pkl)")
    p.add_argument("--layout", default="auto", metavar="LAYOUT", help="layout of the source (as for every command)")
    p.add_argument("-o", "--output", required=True, help="output path")
    p.add_argument(
        "--to",
        choices=["safetensors", "pth"],
        default=None,
        help="safetensors, or pth: the layout's own state_dict (ckpt.pt for nanoGPT) that the original scripts load "
        "(default: from the -o suffix)",
    )
    p.add_argument("--dtype", default=None, help="store weights as float32, bfloat16 or float16")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")

    p = sub.add_parser("train", help="train a model on a text corpus (one process, --nproc N, or under torchrun)")
    p.add_argument("--data", help="UTF-8 corpus (poems separated by blank lines)")
    p.add_argument("--out", help="output .safetensors (resume state, metrics.jsonl, loss.svg, card beside it)")
    p.add_argument("--plot", metavar="METRICS", help="redraw a run's loss curve from its metrics.jsonl, then exit")
    p.add_argument("--preset", default="small", help="tiny, small (default) or base")
    for name in (
        "block-size",
        "n-embd",
        "n-layer",
        "n-head",
        "batch-size",
        "eval-interval",
        "eval-iters",
        "warmup-iters",
        "max-iters",
        "threads",
        "grad-accum",
        "sample-chars",
    ):
        p.add_argument(f"--{name}", type=int, default=None)
    for name in ("lr", "dropout", "max-minutes", "val-fraction", "weight-decay"):
        p.add_argument(f"--{name}", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", default=None, help="auto, float32, bfloat16 or float16 (autocast)")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model (slow start)")
    p.add_argument("--nproc", type=int, default=None, help="launch N data-parallel processes with torchrun")
    p.add_argument("--sample-prompt", default=None, help="prompt of the sample at each eval (default: first line)")
    p.add_argument("--quiet", action="store_true", help="plain progress lines, no live chart")
    p.add_argument("--resume", action="store_true", help="continue from the resume state next to --out")

    p = sub.add_parser("bench", help="measure speed: the engine against baselines (default), the TUI, the floor")
    p.add_argument("what", nargs="?", choices=BENCHMARKS, default="engine", help="which benchmark (default: engine)")
    _add_model_args(p, layout=False)
    p.add_argument("--json", metavar="PATH", nargs="?", const="-", help="also write JSON (to PATH or stdout)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a rough number in a minute)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5; fewer with --quick)")
    p.add_argument(
        "--reference",
        default=None,
        help="size of the random-weight model: 'upstream' (default), 'off', or "
        "vocab_size=..,block_size=..,n_embd=..,n_layer=..,n_head=..",
    )
    p.add_argument("--markdown", metavar="PATH", help="engine: also write the tables as Markdown (for the README)")
    p.add_argument(
        "--tokens", type=int, default=None, help="tui, serve, explain: tokens per reply (default 500; 200 with --quick)"
    )

    p = sub.add_parser("serve", help="serve the model over an OpenAI-compatible HTTP API")
    _add_model_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument(
        "--api-key", default=None, help="require `Authorization: Bearer KEY` (default: $BABYGPT_TUI_API_KEY, or none)"
    )
    p.add_argument("--max-queue", type=int, default=8, metavar="N", help="requests that may wait (default: 8)")
    p.add_argument(
        "--max-prompt-chars", type=int, default=65_536, metavar="N", help="longer prompts get 413 (default: 65536)"
    )
    p.add_argument(
        "--refuse-field",
        action="append",
        default=[],
        metavar="FIELD",
        help="answer 400 naming FIELD to a request that sets it (repeatable), as servers without it do: "
        "try a client against them, or keep clients off a setting",
    )
    p.add_argument(
        "--token-delay", type=float, default=0.0, metavar="S", help="sleep S seconds per token (a slow server to try)"
    )
    _add_sampling_args(p)
    _add_stop_arg(p)

    p = sub.add_parser("engine", help="the engine process the TUI talks to (JSON lines; for debugging)")
    p.add_argument("--stdio", action="store_true", help="speak the protocol on stdin/stdout")
    p.add_argument("--token-delay", type=float, default=0.0, metavar="S", help="sleep S seconds per token")

    p = sub.add_parser("paths", help="print where config, sessions, exports and the TUI's state live")

    p = sub.add_parser("config", help="show or initialise config.toml")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    csub.add_parser("show", help="effective settings and where each came from")
    csub.add_parser("init", help="write the example config to the user config path (never overwrites)")

    p = sub.add_parser("sessions", help="list, export or delete saved sessions")
    ssub = p.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    ssub.add_parser("list", help="list sessions")
    e = ssub.add_parser("export", help="export a session as Markdown or JSON")
    e.add_argument("name")
    e.add_argument("--format", choices=["md", "json"], default="md")
    e.add_argument("-o", "--output", help="file to write (default: stdout)")
    d = ssub.add_parser("delete", help="delete a session")
    d.add_argument("name")
    d.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


COMMANDS = {
    None: "babygpt_tui.commands.tui",
    "generate": "babygpt_tui.commands.generate",
    "score": "babygpt_tui.commands.score",
    "info": "babygpt_tui.commands.info",
    "explain": "babygpt_tui.commands.explain",
    "convert": "babygpt_tui.commands.convert",
    "train": "babygpt_tui.commands.train",
    "bench": "babygpt_tui.commands.bench",
    "serve": "babygpt_tui.commands.serve",
    "engine": "babygpt_tui.commands.engine",
    "paths": "babygpt_tui.commands.storage",
    "config": "babygpt_tui.commands.storage",
    "sessions": "babygpt_tui.commands.storage",
}


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command])
    # Headless commands: every write to stdout is complete or an OutputError (a full disk, `>&-`).
    output = checked_stdout() if args.command is not None else contextlib.nullcontext()
    try:
        with output:
            return int(module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `babygpt-tui generate | head`
        return 0
    except UserError as e:  # only user errors are caught here; bugs keep their traceback
        # The message may quote a file (a session name, a config value): no raw escapes.
        print(f"babygpt-tui: error: {escape_controls(str(e))}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
