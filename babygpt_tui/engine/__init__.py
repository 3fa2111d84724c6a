"""The torch side: model, tokenizer, checkpoints, KV-cached generation, sampling, training.

Never imports textual (a test enforces it)."""
