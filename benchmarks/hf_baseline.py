"""HF transformers baseline: GPT2LMHeadModel.generate with BabyGPT's dimensions (greedy, KV cache).

The implementation is `babygpt_tui/bench/hf_baseline.py` (re-exported here); run this file for
its decode speed alone:  python benchmarks/hf_baseline.py [--tokens 200]
"""

from __future__ import annotations

import argparse
import sys

import _bootstrap  # noqa: F401

from babygpt_tui.bench.hf_baseline import SKIP_NOTE, HFUnavailable, build_hf_model, gpt2_config, hf_generate  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    from babygpt_tui.bench.suite import REFERENCE
    from babygpt_tui.bench.timing import decode_rate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=200)
    args = p.parse_args(argv)
    try:
        model = build_hf_model(REFERENCE)
    except HFUnavailable as e:
        print(e)
        return 0
    prompt = list(range(1, 17))
    hf_generate(model, prompt, 16)  # warm-up
    _, stamps = hf_generate(model, prompt, args.tokens)
    print(
        f"HF generate fp32: {decode_rate(stamps):,.0f} tok/s ({args.tokens} tokens after a {len(prompt)}-token prompt)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
