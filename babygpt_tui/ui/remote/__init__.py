"""The TUI's client of an OpenAI-compatible server (`babygpt-tui --server URL`): `client` (the
backend the app talks to), `reply` (one streamed reply, live knobs), `wire` (the API as data),
`failures` (what went wrong, in words)."""
