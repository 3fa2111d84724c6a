"""A bounded hand-over from the engine thread to the event loop, taken in batches.

The engine thread `put`s one item per token; the loop `await`s `get`, which returns everything
that arrived since the last call, so a busy loop sends several tokens per HTTP chunk instead of
falling behind. When the client reads slowly the channel fills and `put` waits (back-pressure:
the engine never runs far ahead of what is sent); a cancelled channel never makes it wait. The
loop is woken only when it is waiting, not once per token.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Channel(Generic[T]):
    def __init__(self, loop: asyncio.AbstractEventLoop, cancel: threading.Event, limit: int = 512) -> None:
        self._loop, self._cancel, self._limit = loop, cancel, limit
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)
        self._ready = asyncio.Event()
        self._waiting = False  # the loop is parked in get(): wake it on the next put

    def put(self, item: T) -> None:
        """Engine thread: hand over `item`; waits while the channel is full, unless cancelled."""
        with self._space:
            while len(self._items) >= self._limit and not self._cancel.is_set():
                self._space.wait(0.05)  # a cancel (client gone) must not wait for a reader
            self._items.append(item)
            wake, self._waiting = self._waiting, False
        if wake:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is gone, nobody reads
                self._loop.call_soon_threadsafe(self._ready.set)

    def wake(self) -> None:
        """Any thread: wake a waiting `put` (after a cancel) at once."""
        with self._space:
            self._space.notify_all()

    async def get(self) -> list[T]:
        """Event loop: every item so far (at least one), oldest first."""
        while True:
            with self._space:
                if self._items:
                    items = list(self._items)
                    self._items.clear()
                    self._space.notify_all()
                    return items
                self._ready.clear()
                self._waiting = True
            await self._ready.wait()
