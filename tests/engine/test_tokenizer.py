from hypothesis import given
from hypothesis import strategies as st

from babygpt_tui.engine.tokenizer import CharTokenizer


def test_vocab_is_sorted_set_of_corpus() -> None:
    tok = CharTokenizer.from_text("banana\n")
    assert tok.chars == ["\n", "a", "b", "n"]


def test_unknown_characters_are_skipped_and_reported_once() -> None:
    tok = CharTokenizer.from_text("abc")
    enc = tok.encode("axbyxc")
    assert tok.decode(enc.ids) == "abc"
    assert enc.skipped == ["x", "y"]


@given(st.text(), st.text(min_size=1))
def test_encode_never_raises_and_round_trips_known_characters(text: str, corpus: str) -> None:
    tok = CharTokenizer.from_text(corpus)
    enc = tok.encode(text)
    assert tok.decode(enc.ids) == "".join(c for c in text if c in tok.stoi)
    assert set(enc.skipped) == {c for c in text if c not in tok.stoi}


def test_start_id_is_newline_when_present() -> None:
    assert CharTokenizer.from_text("a\nb").start_id() == 0
    assert CharTokenizer.from_text("ab").start_id() == 0
