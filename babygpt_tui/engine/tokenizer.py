"""Character tokenizer, built the way the original BabyGPT builds it: vocab = sorted(set(text))."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    skipped: list[str]  # characters not in the vocabulary, in order of appearance, deduplicated


class CharTokenizer:
    def __init__(self, chars: list[str]) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary has duplicate characters")
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

    def start_id(self) -> int:
        """The id generation starts from when the prompt is empty: the corpus separator."""
        return self.stoi.get("\n", 0)
