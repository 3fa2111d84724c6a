"""Character tokenizer, built the way the original BabyGPT builds it: vocab = sorted(set(text))."""

from __future__ import annotations

from dataclasses import dataclass

from ..api import POEM_BOUNDARY


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    skipped: list[str]  # characters not in the vocabulary, in order of appearance, deduplicated


class CharTokenizer:
    def __init__(self, chars: list[str]) -> None:
        """`chars`: the vocabulary in id order, distinct one-character strings (ValueError if not;
        vocabularies come from files, so the message shows the bad entry escaped)."""
        if not isinstance(chars, list) or not chars:
            raise ValueError(f"the vocabulary must be a non-empty list of characters, got {type(chars).__name__}")
        seen: dict[str, int] = {}
        for i, c in enumerate(chars):
            if not isinstance(c, str) or len(c) != 1:
                shown = repr(c) if isinstance(c, str | int | float) else type(c).__name__
                raise ValueError(f"vocabulary entry {i} is {shown[:40]}, not a single character")
            if c in seen:
                raise ValueError(f"vocabulary has {c!r} twice (entries {seen[c]} and {i})")
            seen[c] = i
        self.chars: list[str] = list(chars)
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        # Same as upstream, so a corpus file reproduces the vocab of an upstream model.pth.
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Encoded:
        """Map text to ids. Unknown characters are skipped (never raised) and reported."""
        stoi = self.stoi
        ids: list[int] = []
        skipped: dict[str, None] = {}
        for c in text:
            i = stoi.get(c)
            if i is None:
                skipped[c] = None
            else:
                ids.append(i)
        return Encoded(ids, list(skipped))

    def decode(self, ids: list[int]) -> str:
        chars = self.chars
        return "".join(chars[i] for i in ids)

    def unknown_chars(self, text: str) -> list[str]:
        return self.encode(text).skipped

    def start_ids(self) -> list[int]:
        """What generation starts from when the prompt is empty: the poem boundary (a blank line),
        so the model begins a new poem at its title line; one separator where the vocabulary has
        no newline."""
        if all(c in self.stoi for c in POEM_BOUNDARY):
            return [self.stoi[c] for c in POEM_BOUNDARY]
        return [self.start_id()]

    def start_id(self) -> int:
        """The id generation starts from when the prompt is empty: the corpus separator."""
        return self.stoi.get("\n", 0)
