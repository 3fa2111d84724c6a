import pytest

from babygpt_tui.engine.data import read_corpus, split_poems, train_val_split
from babygpt_tui.engine.errors import DataError


def test_split_is_by_whole_poem_and_deterministic(tiny_corpus: str) -> None:
    train, val = train_val_split(tiny_corpus, 0.25, seed=3)
    poems = split_poems(tiny_corpus)
    train_poems, val_poems = split_poems(train), split_poems(val)
    assert sorted(train_poems + val_poems) == sorted(poems)
    assert not set(train_poems) & set(val_poems)
    assert len(val_poems) == 1
    assert train_val_split(tiny_corpus, 0.25, seed=3) == (train, val)


def test_different_seed_picks_other_poems(tiny_corpus: str) -> None:
    picks = {train_val_split(tiny_corpus, 0.25, seed=s)[1] for s in range(10)}
    assert len(picks) > 1


def test_one_poem_cannot_be_split() -> None:
    with pytest.raises(DataError, match="fewer than 2 poems"):
        train_val_split("only one poem\nwith two lines\n")


@pytest.mark.parametrize("content,expected", [(None, "not found"), (b"", "empty"), (b"\xff\xfe\xfa", "UTF-8")])
def test_bad_corpus_files(tmp_path, content, expected) -> None:
    path = tmp_path / "c.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        read_corpus(path)
