"""Stop strings: the reply ends before the first one it would contain; nothing handed out is
ever taken back; held-back tokens come out when the match fails or the reply ends."""

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui.api import GenerationRequest, SamplingParams
from babygpt_tui.cli import main
from babygpt_tui.config import ConfigError, parse_config_text, unescape
from babygpt_tui.engine.stops import StopMatcher

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=60)


@dataclass(frozen=True)
class Tok:
    text: str


def run_matcher(texts: list[str], stops: tuple[str, ...]) -> tuple[list[list[str]], bool]:
    """The chunks released after each push (then the flush), and whether a stop was hit."""
    matcher: StopMatcher[Tok] = StopMatcher(stops)
    chunks = []
    for text in texts:
        released, hit = matcher.push(Tok(text))
        chunks.append([t.text for t in released])
        if hit:
            return chunks, True
    chunks.append([t.text for t in matcher.flush()])
    return chunks, False


def expected_reply(texts: list[str], stops: tuple[str, ...]) -> tuple[str, bool]:
    """As a stream: the reply ends at the first token after which the text contains a stop
    string, cut where the earliest one there starts (a longer stop string that would only have
    completed later cannot end it: generation stopped before it could)."""
    text = ""
    for token in texts:
        text += token
        hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
        if hits:
            return text[: min(hits)], True
    return text, False


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from("ab\n。"), max_size=30),
    st.lists(st.text(alphabet="ab\n。", max_size=4), max_size=3).map(tuple),
)
def test_char_tokens_reply_is_text_cut_before_first_stop(texts: list[str], stops: tuple[str, ...]) -> None:
    chunks, hit = run_matcher(texts, stops)
    reply, should_hit = expected_reply(texts, stops)
    assert "".join(t for chunk in chunks for t in chunk) == reply
    assert hit == should_hit


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab\n", min_size=1, max_size=3), max_size=20),
    st.lists(st.text(alphabet="ab\n", min_size=1, max_size=4), min_size=1, max_size=3).map(tuple),
)
def test_multi_char_tokens_never_pass_a_stop_and_hold_back_little(texts: list[str], stops: tuple[str, ...]) -> None:
    chunks, hit = run_matcher(texts, stops)
    out = "".join(t for chunk in chunks for t in chunk)
    reply, should_hit = expected_reply(texts, stops)
    assert hit == should_hit
    # whole tokens only: a token that overlaps the stop string is dropped with it
    assert reply.startswith(out) and not any(s in out for s in stops)
    if not hit:
        assert out == reply


def test_tokens_are_released_as_soon_as_no_stop_can_complete() -> None:
    chunks, hit = run_matcher(list("xab.abc"), ("abc",))
    # "a" and "ab" wait; "." shows "ab" was no stop; the final "abc" ends the reply
    assert chunks == [["x"], [], [], ["a", "b", "."], [], [], []]
    assert hit


def test_no_stops_release_every_token_at_once() -> None:
    chunks, hit = run_matcher(list("abc"), ())
    assert chunks == [["a"], ["b"], ["c"], []] and not hit


def test_generation_ends_before_stop_string_with_stop_reason(tiny_generator) -> None:
    full = "".join(ev.text for ev in tiny_generator.stream(GenerationRequest("明月", GREEDY)))
    stop = full[10:12]
    cut = full.find(stop)
    run = tiny_generator.stream(GenerationRequest("明月", GREEDY, stop=(stop,)))
    events = list(run)
    assert "".join(ev.text for ev in events) == full[:cut]
    assert [ev.step for ev in events] == list(range(cut))  # the same tokens, in order
    assert run.stats is not None and run.stats.stop_reason == "stop"
    assert run.stats.tokens == cut + len(stop)  # generated, stop string included


def test_held_back_tail_comes_out_when_the_reply_ends(tiny_generator) -> None:
    params = replace(GREEDY, max_new_tokens=12)
    full = "".join(ev.text for ev in tiny_generator.stream(GenerationRequest("明月", params)))
    # a stop string that starts like the reply's last character but cannot complete in time
    stop = full[-1] + "\0"
    run = tiny_generator.stream(GenerationRequest("明月", params, stop=(stop,)))
    assert "".join(ev.text for ev in run) == full
    assert run.stats is not None and run.stats.stop_reason == "length"


def test_generate_stop_flag_understands_escapes(capsys, tiny_checkpoint: Path) -> None:
    base = ["generate", "--model", str(tiny_checkpoint), "--seed", "5", "--temperature", "1", "--max-new-tokens", "80"]
    assert main(base) == 0
    full = capsys.readouterr().out[:-1]  # generate ends its output with a newline
    stop = full[5]
    assert main([*base, "--stop", f"\\u{ord(stop):04x}"]) == 0
    out, err = capsys.readouterr()
    assert out == full[: full.index(stop)] + "\n"
    assert err.rstrip().endswith("stop]")


def test_stop_in_config_and_bad_values(tmp_path: Path) -> None:
    assert parse_config_text('[sampling]\nstop = "\\n\\n"') == {"sampling.stop": ("\n\n",)}
    assert parse_config_text('[sampling]\nstop = ["a", "b"]') == {"sampling.stop": ("a", "b")}
    for bad in ('stop = ""', "stop = [1]", 'stop = ["a", ""]', "stop = 3"):
        with pytest.raises(ConfigError, match="sampling.stop"):
            parse_config_text(f"[sampling]\n{bad}")


@pytest.mark.parametrize(
    "text,expected", [(r"a\nb", "a\nb"), (r"\t\r\\", "\t\r\\"), (r"\u3002", "。"), ("一曲", "一曲"), ("", "")]
)
def test_unescape_known_escapes(text: str, expected: str) -> None:
    assert unescape(text) == expected


@pytest.mark.parametrize("text", ["\\", r"a\q", r"\u12", r"\x41"])
def test_unescape_rejects_unknown_escapes(text: str) -> None:
    with pytest.raises(ValueError, match="escape"):
        unescape(text)


@given(st.text())
def test_unescape_inverts_escaping(text: str) -> None:
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    assert unescape(escaped) == text


@given(st.text(alphabet="ab\\nturx0123456789ABCDEF"))
def test_unescape_gives_text_or_value_error(text: str) -> None:
    try:
        unescape(text)
    except ValueError as e:
        assert "escape" in str(e)


def test_a_stop_that_completes_first_wins_over_a_longer_one_that_started_earlier() -> None:
    # "\n" completes after "b\n"; "b\n。" (starting earlier) would complete only a token later
    chunks, hit = run_matcher(["b", "\n", "。"], ("\n", "b\n。"))
    assert hit and [t for chunk in chunks for t in chunk] == ["b"]
