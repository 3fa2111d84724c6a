"""int8 weight-only quantization (`--dtype int8`): per-output-channel int8 weights, bfloat16
activations.

Every weight matrix a decode step streams (fused qkv, projection, MLP, head) is stored as int8
rows with one scale per row (symmetric: `w ≈ q * scale`, q in -127..127); the embeddings,
LayerNorms and biases stay bfloat16, as do the activations (the KV cache and the attention over
it are float32 on a CPU: kvcache.attention_dtype). The matmul is
PyTorch's `_weight_int8pack_mm` (bf16 input, int8 weight, per-row bf16 scales, bf16 output).

Why this kernel and bf16 activations, measured on this repository's 2-core Xeon (AVX-512, AMX) for
one input row (decode), best of 5 × 2,000 calls: for a 1,536 × 384 matrix fp32 `F.linear` took
19 µs, bf16 `F.linear` 45 µs, `_weight_int8pack_mm` with bf16 input 17 µs but with fp32 input
170 µs; converting the int8 weight per call and multiplying in fp32 / bf16 took 48 / 95 µs (the
conversion alone 24 / 39 µs: it writes a matrix larger than the one it reads). For the
6,148 × 384 head: fp32 170 µs, bf16 163 µs, int8 59 µs. All weight matrices of the reference-size
model in a row: fp32 963 steps/s, bf16 674, int8 2,100.

The forward pass (prefill, `score`) uses the same kernel, so `score --dtype int8` measures the
quality of exactly what decodes; a prefill is slower than in float32 (2.4× for a 200-row
1,536 × 384 matmul), which only prompts and cache shifts pay.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .model import BabyGPT

ACTIVATIONS = torch.bfloat16  # the kernel's input, output and scale dtype
QMAX = 127  # symmetric: -127..127 (-128 unused, so q and -q both exist)


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric int8: (q, scale) with weight ≈ q * scale[:, None]; a row of zeros gets
    scale 1 (q is then 0 as well)."""
    w = weight.detach().float()
    scale = w.abs().amax(dim=1) / QMAX
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(w / scale[:, None]).clamp_(-QMAX, QMAX).to(torch.int8)
    return q, scale


class Int8Linear(nn.Linear):
    """A Linear whose weight is int8 rows and per-row scales (`weight` keeps the Linear's name,
    so the decode plan and `num_params` see it like any other weight). A subclass so it stands
    where the model's Linears stand; nn.Linear's own __init__ (which allocates a float weight)
    is skipped."""

    def __init__(self, linear: nn.Linear) -> None:
        nn.Module.__init__(self)
        q, scale = quantize_rows(linear.weight)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(q, requires_grad=False)
        self.scale = nn.Parameter(scale.to(ACTIVATIONS), requires_grad=False)
        bias: torch.Tensor | None = linear.bias  # None when the Linear has none (its stubs say Tensor)
        self.register_parameter(
            "bias", nn.Parameter(bias.detach().to(ACTIVATIONS), requires_grad=False) if bias is not None else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(ACTIVATIONS)
        y = torch._weight_int8pack_mm(rows, self.weight, self.scale)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*x.shape[:-1], self.out_features)

    def dequantized(self) -> torch.Tensor:
        """The float32 weight the int8 one stands for (tests, and the quality report)."""
        return self.weight.float() * self.scale.float()[:, None]


def quantize_int8(model: BabyGPT) -> BabyGPT:
    """Replace, in place, every weight matrix a decode step multiplies by with an `Int8Linear`
    (quantized from the model's float32 weights), and move everything else to bfloat16. The
    head of a tied model gets its own int8 copy; the embedding it shared stays bfloat16."""
    model.float()
    for block in model.layers():
        attn, mlp = block.attn, block.mlp
        attn.qkv = Int8Linear(attn.qkv)
        if attn.proj is not None:
            attn.proj = Int8Linear(attn.proj)
        if mlp is not None:
            mlp.fc1 = Int8Linear(mlp.fc1)
            if mlp.fc2 is not None:
                mlp.fc2 = Int8Linear(mlp.fc2)
    model.lm_head = Int8Linear(model.lm_head)
    return model.to(ACTIVATIONS)  # floating parameters only: the int8 weights stay int8


def is_quantized(model: BabyGPT) -> bool:
    return isinstance(model.lm_head, Int8Linear)
