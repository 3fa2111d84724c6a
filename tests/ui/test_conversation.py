"""The chat state behind the transcript: requests (fresh / continue), seeds, finishing turns."""

from __future__ import annotations

from dataclasses import replace

from babygpt_tui.api import GenStats, ModelInfo, SamplingParams, TokenBatch
from babygpt_tui.session import ModelRef
from babygpt_tui.ui.conversation import Conversation, same_model, unknown_chars_message
from babygpt_tui.ui.header_text import describe_model

INFO = ModelInfo(
    name="m.safetensors",
    path="/m.safetensors",
    n_params=1_234_567,
    vocab_size=50,
    block_size=8,
    n_layer=1,
    n_head=1,
    n_embd=8,
    device="cpu",
    dtype="float32",
    sha256="ab" * 32,
)


def text_batch(turn: int, text: str) -> TokenBatch:
    return TokenBatch(turn, text, (), (), len(text), 0.0, None, 0, False, 0.0)


def stats(**kw) -> GenStats:
    base = dict(
        tokens=4,
        prompt_tokens=2,
        prefill_ms=2.5,
        decode_s=0.01,
        decode_tokens_per_s=300.0,
        stop_reason="length",
        seed=5,
    )
    base.update(kw)
    return GenStats(**base)


def test_fresh_prompt_is_sent_alone_with_params_and_seed() -> None:
    chat = Conversation()
    chat.set_model(INFO)
    params = SamplingParams(temperature=0.3)
    turn, request = chat.begin("明月", params, "fresh", seed=42)
    assert request.prompt == "明月" and request.params == params and request.seed == 42
    assert turn.model == ModelRef("m.safetensors", "ab" * 32)
    assert turn.seed == 42 and turn.context_mode == "fresh" and turn.started_at
    assert chat.generating


def test_continue_mode_appends_the_prompt_to_the_transcript_so_far() -> None:
    chat = Conversation()
    chat.set_model(INFO)
    chat.begin("一", SamplingParams(), "fresh", seed=1)
    chat.append(text_batch(chat.turn_id, "二三"))
    chat.finish(chat.turn_id, stats())
    _, request = chat.begin("四", SamplingParams(), "continue", seed=1)
    assert request.prompt == "一二三四"


def test_continue_mode_sends_the_tail_the_model_reads() -> None:
    chat = Conversation()
    chat.set_model(INFO)  # block_size 8: the model reads 8 characters
    chat.begin("x" * 100, SamplingParams(), "fresh", seed=1)
    chat.finish(chat.turn_id, stats())
    _, request = chat.begin("y", SamplingParams(), "continue", seed=1)
    assert request.prompt == "x" * 7 + "y"  # one block in all: the engine crops nothing more


def test_a_model_on_a_server_gets_two_blocks_of_characters() -> None:
    chat = Conversation()
    chat.set_model(replace(INFO, server="http://127.0.0.1:8000"))  # its block counts tokens of its own
    _, request = chat.begin("x" * 100, SamplingParams(), "fresh", seed=1)
    assert request.prompt == "x" * 16
    assert "reads at most 8 tokens, so the last 16 were sent" in chat.cropped_note("x" * 100)


def test_random_seed_when_none_given() -> None:
    chat = Conversation()
    seeds = {chat.begin("", SamplingParams())[0].seed for _ in range(5)}
    assert len(seeds) > 1


def test_finish_fills_the_turn_from_the_stats() -> None:
    chat = Conversation()
    turn, _ = chat.begin("a", SamplingParams(), seed=5)
    chat.append(text_batch(chat.turn_id, "bcde"))
    chat.finish(chat.turn_id, stats(stop_reason="stopped"))
    assert (turn.reply, turn.tokens, turn.stop_reason) == ("bcde", 4, "stopped")
    assert turn.decode_tokens_per_s == 300.0 and turn.prefill_ms == 2.5 and turn.finished_at
    assert not chat.generating


def test_an_error_without_stats_marks_the_turn_error_and_keeps_the_text() -> None:
    chat = Conversation()
    turn, _ = chat.begin("a", SamplingParams(), seed=5)
    chat.append(text_batch(chat.turn_id, "bc"))
    chat.finish(chat.turn_id, None, "RuntimeError: boom")
    assert turn.stop_reason == "error" and turn.error == "RuntimeError: boom"
    assert turn.reply == "bc" and turn.tokens == 2


def test_messages_of_an_older_generation_are_ignored() -> None:
    chat = Conversation()
    chat.begin("a", SamplingParams(), seed=5)
    old = chat.turn_id
    chat.finish(old, stats())
    turn, _ = chat.begin("b", SamplingParams(), seed=5)
    assert chat.append(text_batch(old, "stale")) is None
    assert chat.finish(old, stats()) is None
    assert turn.reply == "" and chat.generating


def test_last_reply_skips_empty_replies() -> None:
    chat = Conversation()
    chat.begin("a", SamplingParams(), seed=5)
    chat.append(text_batch(chat.turn_id, "reply one"))
    chat.finish(chat.turn_id, stats())
    chat.begin("b", SamplingParams(), seed=5)
    chat.finish(chat.turn_id, None, "boom")
    assert chat.last_reply() == "reply one"


def test_header_text_and_unknown_character_message() -> None:
    assert describe_model(INFO) == "m.safetensors · 1.2M params · cpu · float32"
    message = unknown_chars_message(["☃", "é"])
    assert "'☃'" in message and "'é'" in message and "skipped" in message


def test_a_model_on_a_server_is_named_by_its_url_and_is_the_same_only_there() -> None:
    info = ModelInfo("tiny", "http://h:1", 12_000, 60, 16, 0, 0, 0, "server", "", server="http://h:1")
    chat = Conversation()
    chat.set_model(info)
    assert chat.model == ModelRef("tiny", "", "http://h:1") and describe_model(info) == "tiny · 12K params · http://h:1"
    assert same_model(chat.model, ModelRef("tiny", server="http://h:1"))
    assert not same_model(chat.model, ModelRef("tiny", server="http://other:1"))
    assert not same_model(chat.model, ModelRef("tiny", "abc"))  # the same name run here is another model
