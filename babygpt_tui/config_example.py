"""The text of config.example.toml, so `config init` works from an installed wheel too.

The repository's config.example.toml is a copy of this string (tests/test_config.py checks they
match and that every key is documented with its built-in default).
"""

EXAMPLE_CONFIG = """\
# babygpt-tui configuration.
#
# `babygpt-tui config init` copies this file to your config path (`babygpt-tui paths` prints it).
# Every key is optional: each commented-out line below shows the built-in default; uncomment a
# line to change it. Command-line flags override this file, and `babygpt-tui config show`
# prints the effective settings and where each one came from. An unknown key or a bad value is
# an error that names the key, so a typo never goes unnoticed.

# The model: a native .safetensors file or an upstream BabyGPT model.pth. A relative path is
# relative to this file's folder; "~" is your home. "" means the bundled Song-ci model.
# model = ""

# The training text of an upstream model.pth: its characters are the model's vocabulary.
# Not needed for a .safetensors file, which carries its own vocabulary. Paths work as for
# model. "" means none.
# vocab_from = ""

# Where the model runs: "auto" (CUDA, else MPS, else CPU), "cpu", "cuda", "cuda:N" or "mps".
# device = "auto"

# Weight precision: "auto" (the fastest here within 0.01 nats/char of float32), "float32",
# "bfloat16", "float16" or "int8" (int8 weights, bfloat16 activations).
# dtype = "auto"

# CPU threads for torch; 0 means one per core (the TUI's engine and serve: one fewer).
# threads = 0

# Compile the decode step with torch.compile (needs a C++ compiler; the first launch of a model
# takes a while, later ones reuse the compiled step from the cache folder).
# compile = false

# Tokens kept when the context window is full and the model slides on: "auto" (half the
# window) or a number from 0 to block_size - 1 (block_size - 1 matches upstream exactly).
# context_keep = "auto"

# Colour theme of the TUI: any Textual theme, e.g. textual-dark, textual-light, nord, gruvbox,
# dracula, tokyo-night, monokai, flexoki, solarized-dark, catppuccin-mocha.
# theme = "textual-dark"

# Save the session after every finished or stopped reply, and on quit.
# autosave = true

# Chat with a model on an OpenAI-compatible server (`babygpt-tui serve`, llama.cpp's
# llama-server, vLLM, Ollama) instead of running one here, e.g. "http://127.0.0.1:8000" (a
# trailing /v1 is fine). "" means none. The API key comes from --api-key or the environment
# variable BABYGPT_TUI_API_KEY, never from this file.
# server = ""

# The model to ask the server for, as its GET /v1/models lists it; "" means the first listed.
# remote_model = ""

# The TUI's "one poem per reply": a reply ends at the blank line that ends a poem. "auto" is on
# for the bundled Song-ci model and off for others; true or false for every model.
# one_poem = "auto"

# Start the TUI in the session used last (as `babygpt-tui --continue`) instead of a new one.
# continue_last = false

[sampling]
# Defaults of the sampling sidebar; "Save as defaults" in the TUI rewrites this section.
# They apply in this order: repetition penalty, temperature, top-k, top-p, min-p.

# 0 is greedy (always the likeliest character); 1 is the model's own distribution; 0 to 100.
# temperature = 0.8

# Sample only among the k likeliest characters; 0 means off.
# top_k = 0

# Sample among the likeliest characters whose probabilities add up to p; 1.0 means off.
# top_p = 1.0

# Drop characters less likely than min_p times the likeliest one; 0.0 means off.
# min_p = 0.0

# Make characters seen recently less likely (above 1) or more likely (below 1); 1.0 means off.
# repetition_penalty = 1.0

# How many recent tokens the repetition penalty looks at (0 or more).
# repetition_window = 64

# The longest reply, in characters (1 or more).
# max_new_tokens = 200

# "random" draws a new seed for every reply (it is recorded, so any reply can be replayed);
# an integer makes every reply reproducible.
# seed = "random"

# Stop strings for `generate`, `serve` and the TUI: a reply ends just before the first of them it
# would contain (the stop string itself is not printed), e.g. ["\\n\\n"] for one poem per reply.
# stop = []
"""
