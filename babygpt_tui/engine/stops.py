"""Stop strings: a reply ends where its text first contains one of them, without that string.

A token is only handed out once it can no longer be the start of a stop string, so what a
caller has seen never needs taking back: the generator holds back the shortest tail of tokens
whose text could still grow into a stop string (for a character model, fewer tokens than the
longest stop string has characters) and releases it when the match fails or the reply ends.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar


class _HasText(Protocol):
    @property
    def text(self) -> str: ...


T = TypeVar("T", bound=_HasText)


class StopMatcher(Generic[T]):
    """Feed tokens in order with `push`; `flush` releases the held-back tail at the end."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)  # "" would end every reply before it starts
        self._held: list[T] = []

    def push(self, token: T) -> tuple[list[T], bool]:
        """(tokens now safe to hand out, whether a stop string completed). After a stop, the
        tokens that overlap it are dropped and nothing is held any more."""
        if not self.stops:
            return [token], False
        self._held.append(token)
        text = "".join(t.text for t in self._held)
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            return self._take_chars(min(hits), drop_rest=True), True
        return self._take_chars(len(text) - self._open_suffix(text)), False

    def flush(self) -> list[T]:
        held, self._held = self._held, []
        return held

    def _open_suffix(self, text: str) -> int:
        """Length of the longest end of `text` that is the beginning of a stop string."""
        for k in range(min(len(text), max(map(len, self.stops)) - 1), 0, -1):
            tail = text[-k:]
            if any(s.startswith(tail) for s in self.stops):
                return k
        return 0

    def _take_chars(self, n: int, drop_rest: bool = False) -> list[T]:
        """Release the held tokens that lie wholly within their first `n` characters."""
        out: list[T] = []
        used = 0
        for i, token in enumerate(self._held):
            if used + len(token.text) > n:
                self._held = [] if drop_rest else self._held[i:]
                return out
            used += len(token.text)
            out.append(token)
        self._held = []
        return out
