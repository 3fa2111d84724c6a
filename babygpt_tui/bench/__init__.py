"""The benchmark suite behind `babygpt-tui bench` (and the scripts in the repository's benchmarks/).

It lives inside the package, not only in benchmarks/, so the command works from any install
(editable, wheel or a fresh clone); benchmarks/*.py are thin runnable wrappers around it.

- original_loop: the original BabyGPT generation loop (per-head torch.cat cache), the seed baseline
- hf_baseline:   HF transformers GPT2LMHeadModel.generate with the same dimensions
- floor:         only the weight matmuls of one decode step: the memory-bandwidth floor
- timing:        warm-up, interleaved repetitions, medians
- suite:         the cases per model and the ratios/targets
- report:        the rich table and the JSON document
"""
