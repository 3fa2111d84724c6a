"""Generation: prefill the prompt in one forward pass, then decode one token per step.

`Generator.stream(request, cancel, params_source)` returns a `GenerationRun`: iterate it for
`TokenEvent`s; `run.stats` is filled when it ends. Sampling params are read from
`params_source()` before every token, so a UI can turn the knobs while text streams.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from ..api import Alternative, GenerationRequest, GenStats, ModelInfo, SamplingParams, TokenEvent
from ..batching import MakeRecords
from ..explanation import Explanation
from .alternatives import Deferred, alternatives
from .autodtype import AutoChoice, choose_cpu_dtype
from .checkpoint import LoadedModel, load_checkpoint
from .compile import CompileUnavailable, Step, compile_step
from .device import dtype_name, resolve_device, resolve_dtype
from .errors import EngineError
from .explain import explain_context
from .kvcache import KVCache
from .model import BabyGPT
from .quant import quantize_int8
from .sampling import order_kept, pick
from .stops import StopMatcher
from .tokenizer import CharTokenizer


class Generator:
    """A model on a device, its tokenizer and one KV cache. One generation at a time.

    The Generator takes ownership of `model`: it is moved to the device/dtype and fused in place
    (a copy would double the memory of every loaded model).
    """

    def __init__(
        self,
        model: BabyGPT,
        tokenizer: CharTokenizer,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = "float32",
        name: str = "model",
        path: str = "",
        sha256: str = "",
        file_size: int = 0,
        metadata: dict[str, str] | None = None,
        stored_dtype: str = "",
        layout: str = "",
        layout_description: str = "",
        exact: bool = False,
        compile: bool = False,
    ) -> None:
        # exact: float32 and every cache shift keeps block_size - 1 tokens, so greedy output is the
        # original scripts' crop-to-block_size loop token for token (see --exact).
        self.exact = exact
        if exact:
            dtype = "float32"
        self.stored_dtype = stored_dtype or dtype_name(model.lm_head.weight.dtype)
        self.metadata = metadata or {}
        self.device = resolve_device(device) if isinstance(device, str) else device
        cfg = model.config
        shape = (cfg.n_embd, cfg.n_layer, cfg.vocab_size)
        self.auto: AutoChoice | None = None  # how `auto` chose, on a CPU
        if isinstance(dtype, str) and (dtype or "auto").lower() == "auto" and self.device.type == "cpu":
            self.auto = choose_cpu_dtype(model, shape)
            self.dtype = self.auto.dtype
        else:
            self.dtype = resolve_dtype(dtype, self.device, shape) if isinstance(dtype, str) else dtype
        # Without native bf16/fp16 matmuls (CPUs), half precision wins for decode (one row per
        # weight matrix: bandwidth-bound) but loses badly for a prefill (measured 6x slower), so a
        # float32 twin prefills — prompts and cache shifts — into the half-precision cache.
        # int8 prefills with its own weights (quant.py): a twin would cost it its memory saving.
        self._prefill_model: BabyGPT | None = None
        if self.device.type == "cpu" and self.dtype not in (torch.float32, torch.int8):
            self._prefill_model = copy.deepcopy(model).to(device=self.device, dtype=torch.float32).fuse()
        n_params = model.num_params()  # the checkpoint's own: int8 adds per-row scales (and a tied head's copy)
        if self.dtype == torch.int8:
            self.model = quantize_int8(model).to(device=self.device).fuse()
        else:
            self.model = model.to(device=self.device, dtype=self.dtype).fuse()
        self.tokenizer = tokenizer
        self.cache = KVCache.for_model(self.model)
        self._lock = threading.Lock()
        # decode inputs as tensors, filled in place: no Python number reaches the step
        self._token = torch.zeros(1, dtype=torch.long, device=self.device)
        self._positions = torch.arange(cfg.block_size, device=self.device).view(-1, 1)
        # --compile: the compiled step, or a one-line note of why it is not (compile.py)
        self._step: Step = self.model.decode_step
        self.compile_seconds: float | None = None
        self.compile_note = ""
        if compile:
            self._compile()
        self.info = ModelInfo(
            name=name,
            path=path,
            n_params=n_params,
            vocab_size=cfg.vocab_size,
            block_size=cfg.block_size,
            n_layer=cfg.n_layer,
            n_head=cfg.n_head,
            n_embd=cfg.n_embd,
            device=str(self.device),
            dtype=dtype_name(self.dtype),
            sha256=sha256,
            file_size=file_size,
            threads=torch.get_num_threads(),
            layout=layout,
            layout_description=layout_description,
        )

    def _compile(self) -> None:
        self.model.fuse(packed=False)
        try:
            self._step, self.compile_seconds = compile_step(self.model, self.cache, self._token, self._positions[0])
        except CompileUnavailable as e:
            self.compile_note = f"{e}; decoding without it"
            self.model.fuse()
        self.cache.reset()

    @classmethod
    def from_loaded(
        cls, loaded: LoadedModel, device: str = "auto", dtype: str = "auto", exact: bool = False, compile: bool = False
    ) -> Generator:
        note = f" ({loaded.layout_note})" if loaded.layout_note else ""
        return cls(
            loaded.model,
            loaded.tokenizer,
            device=device,
            dtype=dtype,
            name=loaded.path.name,
            path=str(loaded.path),
            sha256=loaded.sha256,
            file_size=loaded.file_size,
            metadata=loaded.metadata,
            stored_dtype=loaded.stored_dtype,
            layout=loaded.layout.name,
            layout_description=loaded.layout.description + note,
            exact=exact,
            compile=compile,
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        vocab_from: str | Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        layout: str = "auto",
        exact: bool = False,
        compile: bool = False,
    ) -> Generator:
        return cls.from_loaded(load_checkpoint(path, vocab_from, layout), device, dtype, exact, compile)

    @property
    def block_size(self) -> int:
        return self.model.config.block_size

    def unknown_chars(self, text: str) -> list[str]:
        return self.tokenizer.unknown_chars(text)

    def explain(
        self, context: str, char: str, window: int, params: SamplingParams, top: int = 10, seed: int = 0
    ) -> Explanation:
        """Why the model wrote `char` after `context` having seen its last `window` characters
        (engine/explain.py); in float32 when a float32 twin exists, outside the KV cache."""
        model = self._prefill_model or self.model
        return explain_context(model, self.tokenizer, context, char, window, params, top, seed, self.info.layout)

    def stream(
        self,
        request: GenerationRequest,
        cancel: threading.Event | None = None,
        params_source: Callable[[], SamplingParams] | None = None,
    ) -> GenerationRun:
        return GenerationRun(self, request, cancel or threading.Event(), params_source or (lambda: request.params))

    # -- the one forward path shared by prefill, decode and cache shifts

    def prefill(self, ids: list[int]) -> torch.Tensor:
        """Empty the cache, run `ids` from position 0, return the last position's logits."""
        self.cache.reset()
        idx = torch.tensor([ids], dtype=torch.long, device=self.device)
        model = self._prefill_model if self._prefill_model is not None and len(ids) > 1 else self.model
        logits, _ = model(idx, cache=self.cache, last_only=True)
        self.cache.append(ids)
        last: torch.Tensor = logits[0, -1]
        return last

    def decode(self, token: int) -> torch.Tensor:
        """Feed one token at the next free position, return its logits."""
        self._token.fill_(token)
        pos = len(self.cache)
        # eager: attend over the filled part of the cache; compiled: one shape for every position
        seen = None if self.compile_seconds is not None else pos + 1
        logits = self._step(self._token, self.cache, self._positions[pos], seen)
        self.cache.append([token])
        return logits


class GenerationRun:
    def __init__(
        self,
        gen: Generator,
        request: GenerationRequest,
        cancel: threading.Event,
        params_source: Callable[[], SamplingParams],
    ) -> None:
        self.gen, self.request, self.cancel, self.params_source = gen, request, cancel, params_source
        tok = gen.tokenizer
        enc = tok.encode(request.prompt)
        self.skipped_chars: tuple[str, ...] = tuple(enc.skipped)
        ids = enc.ids or tok.start_ids()  # empty prompt: a new poem, after the corpus's boundary
        block = gen.block_size
        self.prompt_cropped = len(ids) > block
        self.prompt_ids = ids[-block:]
        keep = block - 1 if gen.exact else request.context_keep if request.context_keep is not None else block // 2
        if not 0 <= keep < block:
            raise EngineError(f"context_keep = {keep} is out of range (allowed: 0 to {block - 1})")
        self.keep = keep
        self.stats: GenStats | None = None
        # tap(raw logits, knobs, history before the token, chosen token, step), at every step while
        # set: the engine server's pipeline watch (it returns at once unless a snapshot is due)
        self.tap: Callable[[torch.Tensor, SamplingParams, list[int], int, int], None] | None = None
        self.deferred: Deferred | None = None  # set by `defer_alternatives`

    def defer_alternatives(self) -> MakeRecords:
        """Events come without alternatives (set before iterating); the returned function makes the
        records of a batch of them at once — the engine server's Batcher calls it per batch."""
        self.deferred = Deferred(self.request.top_alternatives, self.gen.tokenizer.chars)
        return self.deferred.records

    def __iter__(self) -> Iterator[TokenEvent]:
        with self.gen._lock, torch.inference_mode():
            yield from self._generate()

    def _generate(self) -> Iterator[TokenEvent]:
        gen, req, tokenizer = self.gen, self.request, self.gen.tokenizer
        rng = torch.Generator(device=gen.device).manual_seed(req.seed)
        history = list(self.prompt_ids)
        n_top = req.top_alternatives
        deferred = self.deferred if n_top else None
        stops: StopMatcher[TokenEvent] = StopMatcher(req.stop)
        count, shifts, shift_s, shifted, reason, error = 0, 0, 0.0, False, "length", ""
        t_first = t_last = prefill_ms = 0.0
        t0 = time.perf_counter()
        try:
            logits = gen.prefill(self.prompt_ids)
            prefill_ms = (time.perf_counter() - t0) * 1000
            while True:
                params = self.params_source()
                if count >= params.max_new_tokens:
                    break
                if self.cancel.is_set():
                    reason = "stopped"
                    break
                forced = req.forced_prefix[count] if count < len(req.forced_prefix) else None
                chosen = pick(logits, params, history, rng, forced, want_probs=n_top > 0)
                token = chosen.id
                if self.tap is not None:  # the pipeline view is watching this step
                    self.tap(logits.float(), params, history, token, count)
                top_raw: tuple[Alternative, ...] = ()
                top_warped: tuple[Alternative, ...] = ()
                if deferred is not None:  # made per batch, when the engine server sends it
                    deferred.add(count, chosen, order_kept(params))
                elif n_top:
                    top_raw, top_warped = alternatives(chosen, n_top, tokenizer.chars, order_kept(params))
                now = time.perf_counter()
                t_first = t_first or now
                t_last = now
                event = TokenEvent(
                    id=token,
                    text=tokenizer.chars[token],
                    logprob=chosen.logprob,
                    position=len(self.prompt_ids) + count,
                    step=count,
                    cache_len=len(gen.cache),
                    shifted=shifted,
                    time=now,
                    params=params,
                    top_raw=top_raw,
                    top_warped=top_warped,
                    warped_prob=chosen.warped_prob,
                )
                count += 1
                history.append(token)
                released, hit_stop = stops.push(event)
                yield from released
                if hit_stop:
                    reason = "stop"
                    break
                if count >= params.max_new_tokens:
                    break  # no forward for a token nobody will read
                shifted = gen.cache.full
                if shifted:
                    # Out of positions: keep the last tokens and re-prefill them from 0.
                    shifts += 1
                    t_shift = time.perf_counter()
                    logits = gen.prefill(gen.cache.shift(self.keep) + [token])
                    shift_s += time.perf_counter() - t_shift
                else:
                    logits = gen.decode(token)
            yield from stops.flush()  # the reply ended first: no stop string can complete now
        except GeneratorExit:
            reason = "stopped"
            raise
        except Exception as e:
            reason, error = "error", f"{type(e).__name__}: {e}"
            raise
        finally:
            decode_s = max(t_last - t_first, 0.0)
            self.stats = GenStats(
                tokens=count,
                prompt_tokens=len(self.prompt_ids),
                prefill_ms=prefill_ms,
                decode_s=decode_s,
                decode_tokens_per_s=(count - 1) / decode_s if count > 1 and decode_s > 0 else 0.0,
                stop_reason=reason,  # type: ignore[arg-type]
                seed=req.seed,
                shifts=shifts,
                shift_ms=shift_s * 1000,
                skipped_chars=self.skipped_chars,
                prompt_cropped=self.prompt_cropped,
                error=error,
            )
