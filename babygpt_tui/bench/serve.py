"""`babygpt-tui bench serve`: tokens/s through `babygpt-tui serve` and the openai client, as a
ratio of the same model decoding in this process, in one run.

Per repetition, interleaved so a busy machine slows both sides alike:
1. the engine in-process: `Generator.stream`, N tokens — decode rate (first to last token) and
   whole-request rate (N / wall time, prefill included);
2. the server (a subprocess on a loopback port, same model, dtype and threads) streamed with the
   openai client: decode rate as the client receives the chunks;
3. the same request without streaming: N / wall time of the HTTP round trip;
4. the TUI's own remote client (`babygpt-tui --server`, ui/remote/) streaming the reply with the
   top alternatives the TUI asks for (heat-map data), tokens/s as it receives them, against the
   engine in-process asked for the same alternatives.

Medians of the repetitions; the ratios are server / engine. Target: streaming keeps >= 90 % of
the engine's decode rate (the TUI's target for its own overhead).
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..api import TOP_ALTERNATIVES, Generate, GenerationRequest, SamplingParams
from ..engine.generate import Generator

PROMPT = "明月"
TARGET = 0.9
SEED = 1


@dataclass(frozen=True)
class ServeBenchOptions:
    model: Path
    vocab_from: str | None = None
    dtype: str = "auto"
    threads: int = 0  # 0: torch's default, on both sides
    tokens: int = 500
    reps: int = 5
    temperature: float = 0.8


class _Server:
    """`babygpt-tui serve --port 0` in a subprocess; its URL comes from its "listening on" line."""

    def __init__(self, argv: list[str], timeout: float = 180) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "babygpt_tui.cli", "serve", "--port", "0", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        lines = []
        for line in self.proc.stderr:
            lines.append(line)
            if m := re.search(r"listening on (http://\S+)", line):
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("babygpt-tui serve exited:\n" + "".join(lines))
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("babygpt-tui serve did not load its model:\n" + "".join(lines))
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                return bool(json.loads(r.read()).get("status") == "ok")
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _engine(gen: Generator, params: SamplingParams, top: int = 0) -> tuple[float, float]:
    t0 = time.perf_counter()
    run = gen.stream(GenerationRequest(PROMPT, params, seed=SEED, top_alternatives=top))
    for _ in run:
        pass
    wall = time.perf_counter() - t0
    assert run.stats is not None
    return run.stats.decode_tokens_per_s, run.stats.tokens / wall


def _client_stream(client: Any, model: str, params: SamplingParams) -> float:
    n, temperature = params.max_new_tokens, params.temperature
    stream = client.completions.create(
        model=model, prompt=PROMPT, max_tokens=n, temperature=temperature, seed=SEED, stream=True
    )
    first_t, first_n, total = 0.0, 0, 0
    for chunk in stream:
        n = len(chunk.choices[0].text) if chunk.choices else 0  # one character per token
        if not n:
            continue
        now = time.perf_counter()
        if not total:
            first_t, first_n = now, n
        total += n
        last_t = now
    return (total - first_n) / (last_t - first_t) if total > first_n else 0.0


def _remote_client(url: str, params: SamplingParams) -> float:
    """The TUI's remote client on its own event loop (no screen): decode tok/s as it received them."""
    from ..ui.messages import GenerationFinished, ModelLoaded, TokensGenerated
    from ..ui.remote.client import RemoteClient, ServerOptions

    async def run() -> float:
        done: asyncio.Future[GenerationFinished] = asyncio.get_running_loop().create_future()
        request = GenerationRequest(PROMPT, params, seed=SEED, top_alternatives=TOP_ALTERNATIVES)

        def post(message: object) -> None:
            if isinstance(message, ModelLoaded):
                client.send(Generate(1, request))
            elif isinstance(message, TokensGenerated):
                client.ack(1)  # the app acknowledges each batch once it is drawn
            elif isinstance(message, GenerationFinished) and not done.done():
                done.set_result(message)

        client = RemoteClient(ServerOptions(url), post)
        client.start()
        try:
            finished = await done
        finally:
            client.close()
            await asyncio.sleep(0)  # let its connections close
        if finished.error or finished.stats is None:
            raise RuntimeError(f"the remote client failed: {finished.error}")
        return finished.stats.decode_tokens_per_s

    return asyncio.run(run())


def _client_whole(client: Any, model: str, params: SamplingParams) -> float:
    t0 = time.perf_counter()
    reply = client.completions.create(
        model=model, prompt=PROMPT, max_tokens=params.max_new_tokens, temperature=params.temperature, seed=SEED
    )
    return int(reply.usage.completion_tokens) / (time.perf_counter() - t0)


def run_serve_bench(options: ServeBenchOptions, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    import openai

    if options.threads:
        torch.set_num_threads(options.threads)
    progress(f"loading {options.model.name} in-process")
    gen = Generator.load(options.model, options.vocab_from, device="cpu", dtype=options.dtype)
    dtype, threads = gen.info.dtype, torch.get_num_threads()
    params = SamplingParams(temperature=options.temperature, max_new_tokens=options.tokens)
    argv = ["--model", str(options.model), "--device", "cpu", "--dtype", dtype, "--threads", str(threads)]
    if options.vocab_from:
        argv += ["--vocab-from", options.vocab_from]
    progress("starting babygpt-tui serve")
    server = _Server(argv)
    try:
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="bench", max_retries=0, timeout=600)
        model = client.models.list().data[0].id
        _engine(gen, replace(params, max_new_tokens=32))  # warm-up both sides
        _client_stream(client, model, replace(params, max_new_tokens=32))
        _remote_client(server.url, replace(params, max_new_tokens=32))
        rows: dict[str, list[float]] = {
            "engine": [],
            "engine_whole": [],
            "stream": [],
            "whole": [],
            "engine_alts": [],
            "remote": [],
        }
        for i in range(options.reps):
            progress(f"repetition {i + 1}/{options.reps}")
            decode, whole = _engine(gen, params)
            rows["engine"].append(decode)
            rows["engine_whole"].append(whole)
            time.sleep(0.2)  # let the idle side's OpenMP threads stop spinning
            rows["stream"].append(_client_stream(client, model, params))
            time.sleep(0.2)
            rows["whole"].append(_client_whole(client, model, params))
            time.sleep(0.2)
            rows["engine_alts"].append(_engine(gen, params, TOP_ALTERNATIVES)[0])
            time.sleep(0.2)
            rows["remote"].append(_remote_client(server.url, params))
            time.sleep(0.2)
    finally:
        server.stop()
    med = {k: statistics.median(v) for k, v in rows.items()}
    stream_ratio = med["stream"] / med["engine"] if med["engine"] else 0.0
    remote_ratio = med["remote"] / med["engine_alts"] if med["engine_alts"] else 0.0
    return {
        "benchmark": "serve",
        "model": options.model.name,
        "dtype": dtype,
        "threads": threads,
        "tokens": options.tokens,
        "reps": options.reps,
        "engine_decode_tok_s": med["engine"],
        "engine_whole_tok_s": med["engine_whole"],
        "serve_stream_decode_tok_s": med["stream"],
        "serve_whole_tok_s": med["whole"],
        "stream_ratio": stream_ratio,
        "whole_ratio": med["whole"] / med["engine_whole"] if med["engine_whole"] else 0.0,
        "top_alternatives": TOP_ALTERNATIVES,
        "engine_alts_decode_tok_s": med["engine_alts"],
        "remote_client_decode_tok_s": med["remote"],
        "remote_ratio": remote_ratio,
        "target": TARGET,
        "targets": [
            {
                "name": f"serve + client streaming >= {TARGET:.0%} of the engine's decode rate",
                "shown": f"{stream_ratio:.2f}x",
                "status": "PASS" if stream_ratio >= TARGET else "MISS",
            },
            {
                "name": f"serve + the TUI's remote client >= {TARGET:.0%} of the engine's decode rate "
                "(with alternatives)",
                "shown": f"{remote_ratio:.2f}x",
                "status": "PASS" if remote_ratio >= TARGET else "MISS",
            },
        ],
        "samples": rows,
    }


def render_serve_bench(doc: dict[str, Any]) -> str:
    ok = doc["targets"][0]["status"] == "PASS"
    remote_ok = doc["targets"][1]["status"] == "PASS"
    return "\n".join(
        [
            f"serve vs in-process engine: {doc['model']}, {doc['dtype']}, {doc['threads']} torch threads, "
            f"{doc['tokens']} tokens, median of {doc['reps']}",
            f"  decode     engine {doc['engine_decode_tok_s']:8.1f} tok/s · serve + openai client streaming "
            f"{doc['serve_stream_decode_tok_s']:8.1f} tok/s · ratio {doc['stream_ratio']:.2f} "
            f"({'meets' if ok else 'below'} the {doc['target']:.0%} target)",
            f"  whole      engine {doc['engine_whole_tok_s']:8.1f} tok/s · serve, one JSON answer "
            f"{doc['serve_whole_tok_s']:8.1f} tok/s · ratio {doc['whole_ratio']:.2f}",
            f"  TUI remote engine {doc['engine_alts_decode_tok_s']:8.1f} tok/s · serve + the TUI's remote client "
            f"{doc['remote_client_decode_tok_s']:8.1f} tok/s · ratio {doc['remote_ratio']:.2f} "
            f"(top {doc['top_alternatives']} alternatives per token; {'meets' if remote_ok else 'below'} the target)",
        ]
    )


if __name__ == "__main__":
    from ..cli import main

    sys.exit(main(["bench", "serve", *sys.argv[1:]]))
