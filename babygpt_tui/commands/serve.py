"""`babygpt-tui serve`: the model behind an OpenAI-compatible HTTP API (the app: babygpt_tui/serve/).

The socket is bound here, before anything loads, so a busy port is a one-line error (exit 2) and
`--port 0` picks a free port (the "listening on" line names it). The model then loads on the
engine thread while the server already answers (/health and /v1/* say 503 until it is ready);
a model that cannot be loaded stops the server with the loader's message (exit 2). Ctrl+C
cancels the generations in flight, so streams end at once instead of holding the shutdown.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from types import FrameType

import uvicorn

from ..api import API_KEY_ENV
from ..errors import UserError
from ..serve.app import ServeOptions, create_app
from ..serve.schema import REFUSABLE, Defaults
from ..serve.worker import Engine
from .common import load_generator, settings_from_args

log = logging.getLogger("babygpt_tui.serve")


def is_loopback(host: str) -> bool:
    """Only these hosts keep the server on this machine; a name could resolve to anything else."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise UserError(f"--port {port} is not a port number (0 to 65535; 0 picks a free one)")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as e:
        raise UserError(f"--host {host}: cannot listen there ({e})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        hint = "; choose another --port, or stop what uses it" if e.errno == 98 else ""
        raise UserError(f"--host {host} --port {port}: {e.strerror or e}{hint}") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn waits for open streams before it shuts down: cancel their generations first."""

    def __init__(self, config: uvicorn.Config, engine: Engine) -> None:
        super().__init__(config)
        self.engine = engine
        self.signal: int | None = None  # the signal that ended it, if one did

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.signal = sig
        # Not here: a signal handler runs on the event loop's thread, between two bytecodes,
        # maybe while that thread holds a lock that stopping the jobs needs.
        threading.Thread(target=self.engine.stop, name="stop-engine", daemon=True).start()
        super().handle_exit(sig, frame)


def _log_setup() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(uvicorn.logging.DefaultFormatter("%(levelprefix)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if not is_loopback(args.host) and not api_key:
        raise UserError(
            f"--host {args.host} is reachable from other machines: give --api-key KEY (or set {API_KEY_ENV}), "
            "or serve on 127.0.0.1"
        )
    for flag, value, least in (("--max-queue", args.max_queue, 0), ("--max-prompt-chars", args.max_prompt_chars, 1)):
        if value < least:
            raise UserError(f"{flag} = {value} must be {least} or more")
    if args.token_delay < 0:
        raise UserError(f"--token-delay = {args.token_delay} must be 0 or more")
    for name in args.refuse_field:
        if name not in REFUSABLE:
            raise UserError(f"--refuse-field {name}: not a field this server can refuse; one of {', '.join(REFUSABLE)}")
    defaults = Defaults(
        params=settings.sampling,
        seed=settings.seed,
        stop=settings.stop,
        context_keep=settings.context_keep,
        max_prompt_chars=args.max_prompt_chars,
        refused=tuple(args.refuse_field),
    )
    sock = bind(args.host, args.port)
    _log_setup()
    # like the TUI: unless --threads says otherwise, torch leaves a core to the event loop
    engine = Engine(
        lambda: load_generator(args, settings, leave_a_core=True),
        max_queue=args.max_queue,
        token_delay=args.token_delay,
    )
    app = create_app(engine, ServeOptions(defaults=defaults, api_key=api_key))
    server = _Server(uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=5), engine)

    def load_failed(message: str) -> None:
        server.should_exit = True  # uvicorn's main loop looks at this every 0.1 s

    engine.on_load_failed = load_failed
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    log.info("listening on http://%s:%d (Ctrl+C to quit)%s", shown, port, "; API key required" * bool(api_key))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if engine.state == "failed":
        raise UserError(engine.load_error)
    # uvicorn raises the signal again once it has stopped, which ends here as KeyboardInterrupt
    # (exit 130, cli.py) — unless SIGINT was ignored when we started (`nohup … &`, a test runner's
    # worker): the exit code still says Ctrl+C.
    return 130 if server.signal == signal.SIGINT else 0
