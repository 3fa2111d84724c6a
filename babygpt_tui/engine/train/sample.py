"""A short sample from a fixed prompt at every eval, so people see the model learn.

Drawn with the engine's sampler and a fixed seed, so two evals differ only by what the model
learnt in between. A plain loop over `forward` on the cropped context: the samples are short and
the training model must not be fused or cached for inference.
"""

from __future__ import annotations

import torch

from ...api import SamplingParams
from ..model import BabyGPT
from ..sampling import sample
from ..tokenizer import CharTokenizer

PARAMS = SamplingParams(temperature=0.8, top_k=40)
PROMPT_CHARS = 24  # of the corpus's first line, when no --sample-prompt is given


def default_prompt(text: str) -> str:
    """The corpus's first non-empty line (cut to PROMPT_CHARS), then a line break."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:PROMPT_CHARS] + "\n"
    return "\n"


@torch.no_grad()
def sample_text(
    model: BabyGPT, tokenizer: CharTokenizer, prompt: str, n_chars: int, seed: int, device: torch.device
) -> str:
    """`n_chars` characters continuing `prompt` (its unknown characters are skipped)."""
    ids = tokenizer.encode(prompt).ids or tokenizer.start_ids()
    block = model.config.block_size
    gen = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    out: list[int] = []
    try:
        for _ in range(n_chars):
            context = torch.tensor([(ids + out)[-block:]], dtype=torch.long, device=device)
            logits, _ = model(context)
            out.append(sample(logits[0, -1].float(), PARAMS, ids + out, gen).id)
    finally:
        model.train(was_training)
    return tokenizer.decode(out)
