"""`babygpt-tui serve`: the engine behind an OpenAI-compatible HTTP API.

- app:       the Starlette routes, auth, body limit, server-sent events, disconnect = cancel
- schema:    request bodies, checked field by field, and how chat messages become one prompt
- responses: OpenAI-shaped bodies and stream chunks (usage, logprobs, finish_reason)
- worker:    the one engine thread, its bounded queue, load state and counters
- channel:   the batched, back-pressured hand-over from the engine thread to the event loop
- echo:      log-probabilities of the prompt's own tokens (echo + logprobs)
- errors:    the OpenAI error shape

Imports the api and the engine, never the UI, textual or sessions (pyproject's import contracts).
"""
