"""Reference models for every checkpoint layout, written from the original scripts' math.

State_dicts with the original key names (as the BabyGPT tutorial's `babygpt_v1.py` ...
`babygpt_v12_wandb.py` and nanoGPT's `model.py` save them, buffers included) and a
straightforward forward for each: per-head attention with a `tril` mask, LayerNorm and GELU by
hand, the scripts' own crop to the last block_size tokens. Nothing here uses our model code, so
the layout tests compare two independent computations.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import torch

TUTORIAL = [f"v{i}" for i in range(1, 13)]
STEP = {name: int(name[1:]) for name in TUTORIAL}


def _rand(gen: torch.Generator, *shape: int, std: float = 0.4) -> torch.Tensor:
    return torch.randn(*shape, generator=gen) * std


def _ln_params(gen: torch.Generator, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    return 1.0 + _rand(gen, c, std=0.1), _rand(gen, c, std=0.1)


def tutorial_state_dict(
    layout: str, vocab: int, n_embd: int = 16, n_head: int = 4, n_layer: int = 2, block: int = 8, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A random model.pth as the tutorial's step `layout` saves it (with each head's `tril`)."""
    step, gen = STEP[layout], torch.Generator().manual_seed(seed)
    C = n_embd
    sd = {"token_embedding_table.weight": _rand(gen, vocab, C, std=1.0)}
    if step >= 2:
        sd["postion_embedding_table.weight"] = _rand(gen, block, C, std=1.0)

    def heads(prefix: str, n: int, size: int) -> None:
        for h in range(n):
            for part in ("key", "query", "value"):
                sd[f"{prefix}.heads.{h}.{part}.weight"] = _rand(gen, size, C)
            sd[f"{prefix}.heads.{h}.tril"] = torch.tril(torch.ones(block, block))

    def linear(name: str, out: int, inp: int) -> None:
        sd[f"{name}.weight"], sd[f"{name}.bias"] = _rand(gen, out, inp, std=1 / math.sqrt(inp)), _rand(gen, out)

    if step == 3:
        for part in ("key", "query", "value"):
            sd[f"sa_head.{part}.weight"] = _rand(gen, C, C)
        sd["sa_head.tril"] = torch.tril(torch.ones(block, block))
    elif step in (4, 5):
        heads("sa_heads", n_head, C // n_head)
        if step == 5:
            linear("ffwd.net.0", C, C)
    elif step >= 6:
        hidden = C if step < 8 else 4 * C
        for i in range(n_layer):
            b = f"blocks.{i}"
            heads(f"{b}.sa", n_head, C // n_head)
            if step >= 8:
                linear(f"{b}.sa.proj", C, C)
            linear(f"{b}.ffwd.net.0", hidden, C)
            if step >= 8:
                linear(f"{b}.ffwd.net.2", C, hidden)
            if step >= 9:
                sd[f"{b}.ln1.weight"], sd[f"{b}.ln1.bias"] = _ln_params(gen, C)
                sd[f"{b}.ln2.weight"], sd[f"{b}.ln2.bias"] = _ln_params(gen, C)
        if step >= 9:
            sd["ln_final.weight"], sd["ln_final.bias"] = _ln_params(gen, C)
    sd["lm_head.weight"], sd["lm_head.bias"] = _rand(gen, vocab, C, std=1.5), _rand(gen, vocab)
    return sd


# ---------------------------------------------------------------- the scripts' forward


def _linear(sd: dict[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
    y = x @ sd[f"{name}.weight"].T
    return y + sd[f"{name}.bias"] if f"{name}.bias" in sd else y


def _layer_norm(sd: dict[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    y = (x - mean) / torch.sqrt(var + 1e-5) * sd[f"{name}.weight"]
    return y + sd[f"{name}.bias"] if f"{name}.bias" in sd else y


def _head(sd: dict[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    """The tutorial's `Head.forward`: q·k / sqrt(head_size), tril mask, softmax, @ v."""
    T = x.shape[0]
    k, q, v = (x @ sd[f"{prefix}.{part}.weight"].T for part in ("key", "query", "value"))
    wei = q @ k.T / (k.shape[-1] ** 0.5)
    wei = wei.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
    return torch.softmax(wei, dim=-1) @ v


def _heads(sd: dict[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    n = len({k.split(".")[-2] for k in sd if k.startswith(f"{prefix}.heads.") and k.endswith(".tril")})
    return torch.cat([_head(sd, f"{prefix}.heads.{h}", x) for h in range(n)], dim=-1)


def tutorial_logits(layout: str, sd: dict[str, torch.Tensor], ids: list[int]) -> torch.Tensor:
    """`BabyGPT.forward` of step `layout` on one sequence, the last position's logits."""
    step = STEP[layout]
    if step >= 2:  # v2+: forward keeps only the last block_size tokens, positions 0..T-1
        ids = ids[-sd["postion_embedding_table.weight"].shape[0] :]
    x = sd["token_embedding_table.weight"][ids]
    if step >= 2:
        x = x + sd["postion_embedding_table.weight"][: len(ids)]
    if step == 3:
        x = _head(sd, "sa_head", x)
    elif step in (4, 5):
        x = _heads(sd, "sa_heads", x)
        if step == 5:
            x = torch.relu(_linear(sd, "ffwd.net.0", x))
    elif step >= 6:
        i = 0
        while f"blocks.{i}.ffwd.net.0.weight" in sd:
            b = f"blocks.{i}"
            if step == 6:  # x = sa(x); x = ffwd(x)
                x = _heads(sd, f"{b}.sa", x)
                x = torch.relu(_linear(sd, f"{b}.ffwd.net.0", x))
            elif step == 7:  # residual connections
                x = x + _heads(sd, f"{b}.sa", x)
                x = x + torch.relu(_linear(sd, f"{b}.ffwd.net.0", x))
            elif step == 8:  # projection, 4x MLP
                x = x + _linear(sd, f"{b}.sa.proj", _heads(sd, f"{b}.sa", x))
                x = x + _linear(sd, f"{b}.ffwd.net.2", torch.relu(_linear(sd, f"{b}.ffwd.net.0", x)))
            else:  # pre-LayerNorm
                h = _layer_norm(sd, f"{b}.ln1", x)
                x = x + _linear(sd, f"{b}.sa.proj", _heads(sd, f"{b}.sa", h))
                h = _layer_norm(sd, f"{b}.ln2", x)
                x = x + _linear(sd, f"{b}.ffwd.net.2", torch.relu(_linear(sd, f"{b}.ffwd.net.0", h)))
            i += 1
        if step >= 9:
            x = _layer_norm(sd, "ln_final", x)
    return _linear(sd, "lm_head", x)[-1]


# ---------------------------------------------------------------- nanoGPT


def nanogpt_state_dict(
    vocab: int, bias: bool, n_embd: int = 16, n_head: int = 4, n_layer: int = 2, block: int = 8, seed: int = 0
) -> dict[str, torch.Tensor]:
    """nanoGPT's `GPT.state_dict()`: `lm_head.weight` is the same tensor as `transformer.wte.weight`."""
    gen, C = torch.Generator().manual_seed(seed), n_embd
    sd = {"transformer.wte.weight": _rand(gen, vocab, C, std=1.0), "transformer.wpe.weight": _rand(gen, block, C)}

    def linear(name: str, out: int, inp: int) -> None:
        sd[f"{name}.weight"] = _rand(gen, out, inp, std=1 / math.sqrt(inp))
        if bias:
            sd[f"{name}.bias"] = _rand(gen, out, std=0.1)

    def norm(name: str) -> None:
        w, b = _ln_params(gen, C)
        sd[f"{name}.weight"] = w
        if bias:
            sd[f"{name}.bias"] = b

    for i in range(n_layer):
        h = f"transformer.h.{i}"
        norm(f"{h}.ln_1")
        linear(f"{h}.attn.c_attn", 3 * C, C)
        linear(f"{h}.attn.c_proj", C, C)
        norm(f"{h}.ln_2")
        linear(f"{h}.mlp.c_fc", 4 * C, C)
        linear(f"{h}.mlp.c_proj", C, 4 * C)
    norm("transformer.ln_f")
    sd["transformer.wte.weight"] *= 3  # peaked next-token distributions through the tied head
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    return sd


def nanogpt_logits(sd: dict[str, torch.Tensor], ids: list[int], n_head: int) -> torch.Tensor:
    """nanoGPT's `GPT.forward` (with the crop its `generate` does), the last position's logits."""
    block = sd["transformer.wpe.weight"].shape[0]
    ids = ids[-block:]
    T = len(ids)
    x = sd["transformer.wte.weight"][ids] + sd["transformer.wpe.weight"][:T]
    C = x.shape[-1]
    D = C // n_head
    i = 0
    while f"transformer.h.{i}.ln_1.weight" in sd:
        h = f"transformer.h.{i}"
        q, k, v = _linear(sd, f"{h}.attn.c_attn", _layer_norm(sd, f"{h}.ln_1", x)).split(C, dim=1)
        outs = []
        for n in range(n_head):
            qh, kh, vh = (t[:, n * D : (n + 1) * D] for t in (q, k, v))
            att = qh @ kh.T * (1.0 / math.sqrt(D))
            att = att.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
            outs.append(torch.softmax(att, dim=-1) @ vh)
        x = x + _linear(sd, f"{h}.attn.c_proj", torch.cat(outs, dim=-1))
        m = _linear(sd, f"{h}.mlp.c_fc", _layer_norm(sd, f"{h}.ln_2", x))
        m = 0.5 * m * (1.0 + torch.erf(m / math.sqrt(2.0)))  # nn.GELU(), exact
        x = x + _linear(sd, f"{h}.mlp.c_proj", m)
        i += 1
    x = _layer_norm(sd, "transformer.ln_f", x)
    return (x @ sd["lm_head.weight"].T)[-1]


def save_nanogpt(
    out_dir: Path,
    sd: dict[str, torch.Tensor],
    n_head: int,
    chars: list[str],
    prefix: str = "",
    meta_dir: Path | None = None,
) -> Path:
    """`ckpt.pt` as nanoGPT's train.py writes it, and `meta.pkl` as prepare.py does (in `meta_dir`)."""
    C = sd["transformer.wte.weight"].shape[1]
    layers = len({k.split(".")[2] for k in sd if k.startswith("transformer.h.")})
    bias = "transformer.ln_f.bias" in sd
    model_args = {
        "n_layer": layers,
        "n_head": n_head,
        "n_embd": C,
        "block_size": sd["transformer.wpe.weight"].shape[0],
        "bias": bias,
        "vocab_size": len(chars),
        "dropout": 0.0,
    }
    state = {prefix + k: v for k, v in sd.items()}
    optimizer = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(2)}}, "param_groups": [{"lr": 1e-3}]}
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / "ckpt.pt"
    config = {"dataset": "tiny_char", "n_layer": layers, "compile": bool(prefix), "learning_rate": 1e-3}
    torch.save(
        {
            "model": state,
            "optimizer": optimizer,
            "model_args": model_args,
            "iter_num": 250,
            "best_val_loss": torch.tensor(1.5),
            "config": config,
        },
        ckpt,
    )
    meta = {"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}
    (meta_dir or out_dir).mkdir(parents=True, exist_ok=True)
    with open((meta_dir or out_dir) / "meta.pkl", "wb") as f:
        pickle.dump(meta, f)
    return ckpt


def greedy(logits_of, prompt: list[int], n: int) -> tuple[list[int], list[float]]:
    """The scripts' generate loop at temperature 0: argmax, append, repeat (the crop is in forward)."""
    ids, out, logprobs = list(prompt), [], []
    with torch.no_grad():
        for _ in range(n):
            logits = logits_of(ids)
            token = int(torch.argmax(logits))
            out.append(token)
            logprobs.append(float(torch.log_softmax(logits.double(), -1)[token]))
            ids.append(token)
    return out, logprobs
