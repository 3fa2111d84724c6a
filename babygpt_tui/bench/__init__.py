"""The benchmarks behind `babygpt-tui bench [engine|tui|floor]`: their one home.

It lives inside the package so the command works from any install (editable, wheel or a fresh
clone); each is also `python -m babygpt_tui.bench.<suite|tui|floor>`.

- original_loop: the original BabyGPT generation loop (per-head torch.cat cache), the seed baseline
- hf_baseline:   HF transformers GPT2LMHeadModel.generate with the same dimensions
- floor:         only the weight matmuls of one decode step: the memory-bandwidth floor
- timing:        warm-up, interleaved repetitions, medians
- suite:         the engine cases per model and the ratios/targets (`bench engine`)
- tui:           the TUI against the bare engine, slider latency, cold start (`bench tui`)
- report:        the rich table and the JSON document
"""
