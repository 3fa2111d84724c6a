"""Log-probabilities of the prompt's own tokens, for `echo` with `logprobs` on /v1/completions.

One forward pass over the prompt the model reads (at most block_size tokens): token t's
log-probability is under the model's distribution after tokens 0..t-1; the first token has
none (null, as in OpenAI's API). Runs on the engine thread, like every torch call.
"""

from __future__ import annotations

import torch

from ..api import Alternative
from ..engine.generate import Generator
from .prompt_tokens import PromptLogprobs, PromptToken


def prompt_logprobs(gen: Generator, ids: list[int], n_top: int) -> PromptLogprobs:
    chars = gen.tokenizer.chars
    with torch.inference_mode():
        idx = torch.tensor([ids], dtype=torch.long, device=gen.device)
        logits, _ = gen.model(idx)
        logp = torch.log_softmax(logits[0].float(), dim=-1)  # row t predicts token t + 1
    out = [PromptToken(chars[ids[0]], None)]
    for t in range(1, len(ids)):
        row = logp[t - 1]
        top: tuple[Alternative, ...] = ()
        if n_top:
            values, top_ids = torch.topk(row, min(n_top, row.numel()))
            top = tuple(
                Alternative(int(i), chars[int(i)], float(v.exp()))
                for i, v in zip(top_ids.tolist(), values, strict=True)
            )
        out.append(PromptToken(chars[ids[t]], float(row[ids[t]]), top))
    return PromptLogprobs(tuple(out))
