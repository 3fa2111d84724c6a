"""The key footer: Textual's, except that a change of bindings which only enables or disables
keys updates them in place.

Textual's `Footer` recomposes itself (unmounts and mounts every key, each styled anew) whenever
the screen's bindings are refreshed: on every focus change, and when a reply starts or ends and
Stop is dimmed or lit. Measured here that is ~20 ms of the event loop each time, and at a reply's
start it lands just when its first token should be drawn. When the keys shown, their order and
labels are the same as last drawn, only each key's enabled state is set; anything else (a key
appears or goes, compact mode, the command palette hint) recomposes as before.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

Layout = tuple[Hashable, ...]


class KeysFooter(Footer):
    """A `Footer` that does not rebuild itself when only the keys' enabled states change."""

    def __init__(self, *, id: str | None = None, compact: bool = False) -> None:
        super().__init__(id=id, compact=compact)
        self._drawn: Layout | None = None  # the layout of the keys as last composed

    def key_states(self) -> tuple[Layout, list[bool]]:
        """What `Footer.compose` would draw: the keys' layout (key, label, action, group, tooltip,
        in order), and whether each is enabled — one entry per FooterKey it yields."""
        screen = self.screen
        active = screen.active_bindings
        first: dict[str, tuple[Hashable, bool]] = {}  # compose shows the first binding of each action
        for _, binding, state, tooltip in active.values():
            if binding.show and binding.action not in first:
                group = (binding.group.description, binding.group.compact) if binding.group else None
                first[binding.action] = ((binding.key, binding.description, binding.action, group, tooltip), state)
        layout: list[Hashable] = [entry for entry, _ in first.values()]
        enabled = [state for _, state in first.values()]
        palette = self.app.COMMAND_PALETTE_BINDING
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette in active:
            _, binding, palette_state, tooltip = active[palette]
            layout.append(("palette", binding.key, binding.description, tooltip))
            enabled.append(palette_state)
        return (self.compact, *layout), enabled

    async def recompose(self) -> None:
        if not self.is_attached or not self._bindings_ready:
            await super().recompose()
            return
        layout, enabled = self.key_states()
        keys = list(self.query(FooterKey))
        if layout == self._drawn and len(keys) == len(enabled):
            for key, state in zip(keys, enabled, strict=True):
                if key._disabled == state:  # Textual keeps it private; the click handler reads it
                    key._disabled = not state
                    key.set_class(not state, "-disabled")
            return
        self._drawn = layout
        await super().recompose()
