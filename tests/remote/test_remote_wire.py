"""The OpenAI API as data (ui/remote/wire.py): the request the TUI sends, and the readers of what
servers send back — every known shape, and anything else is a WireError (never another exception)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babygpt_tui.api import SamplingParams
from babygpt_tui.ui.remote.wire import (
    MESSAGE_CHARS,
    ServedModel,
    ServerError,
    WireError,
    completion_body,
    error_of,
    parse_chunk,
    parse_models,
    refused_field,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
chunk_keys = st.sampled_from(["choices", "usage", "warnings", "error", "text", "logprobs", "finish_reason", "tokens"])


def test_every_knob_is_sent_off_ones_too_and_refused_fields_are_left_out() -> None:
    params = SamplingParams(temperature=0.5, top_k=0, max_new_tokens=9)
    body = completion_body("明月", params, 7, model="tiny", logprobs=10, stop=("\n\n",))
    assert body == {
        "prompt": "明月",
        "stream": True,
        "stream_options": {"include_usage": True},
        "model": "tiny",
        "max_tokens": 9,
        "temperature": 0.5,
        "top_p": 1.0,
        "top_k": 0,
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "seed": 7,
        "logprobs": 10,
        "stop": ["\n\n"],
    }
    lean = completion_body("x", params, 7, max_tokens=3, refused={"top_k", "logprobs"})
    assert "top_k" not in lean and "logprobs" not in lean and "model" not in lean and lean["max_tokens"] == 3


def test_legacy_and_chat_shaped_logprobs_read_the_same() -> None:
    legacy = {
        "choices": [
            {
                "text": "ab",
                "logprobs": {
                    "tokens": ["a", "b"],
                    "token_logprobs": [-0.5, -1.0],
                    "top_logprobs": [{"c": -2.0, "a": -0.5}, {"b": -1.0}],
                },
                "finish_reason": None,
            }
        ]
    }
    chat = {
        "choices": [
            {
                "text": "ab",
                "logprobs": {
                    "content": [
                        {
                            "token": "a",
                            "logprob": -0.5,
                            "top_logprobs": [{"token": "c", "logprob": -2.0}, {"token": "a", "logprob": -0.5}],
                        },
                        {"token": "b", "logprob": -1.0, "top_logprobs": [{"token": "b", "logprob": -1.0}]},
                    ]
                },
            }
        ]
    }
    for shape in (legacy, chat):
        chunk = parse_chunk(json.dumps(shape))
        assert chunk.text == "ab" and chunk.tokens is not None
        assert [(t.text, t.logprob, t.top) for t in chunk.tokens] == [
            ("a", -0.5, (("a", -0.5), ("c", -2.0))),  # likeliest first, whatever order the server sent
            ("b", -1.0, (("b", -1.0),)),
        ]


def test_usage_warnings_finish_and_errors_in_a_stream() -> None:
    last = parse_chunk('{"choices":[{"text":"","finish_reason":"length","logprobs":null}],"warnings":["x\\u001b[2J"]}')
    assert last.finish_reason == "length" and last.tokens is None and last.warnings == ("x\\x1b[2J",)
    usage = parse_chunk('{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":40}}')
    assert usage.completion_tokens == 40 and usage.prompt_tokens == 3 and usage.text == ""
    err = parse_chunk('{"error":{"message":"the server is shutting down","code":"shutting_down"}}').error
    assert err == ServerError(0, "the server is shutting down", None, "shutting_down")


@pytest.mark.parametrize(
    "status,raw,expected",
    [
        (
            400,
            b'{"error":{"message":"top_k: nope","param":"top_k","code":"invalid_value"}}',
            ServerError(400, "top_k: nope", "top_k", "invalid_value"),
        ),
        (404, b'{"error":"model not found"}', ServerError(404, "model not found")),
        (
            422,
            b'{"detail":[{"loc":["body","top_k"],"msg":"extra fields not permitted"}]}',
            ServerError(422, "extra fields not permitted"),
        ),
        (502, b"<html><body>Bad   Gateway</body></html>", ServerError(502, "<html><body>Bad Gateway</body></html>")),
        (500, b"", ServerError(500, "HTTP 500 with no message")),
    ],
)
def test_error_answers_of_every_known_shape(status: int, raw: bytes, expected: ServerError) -> None:
    assert error_of(status, raw) == expected


@pytest.mark.parametrize(
    "error,field",
    [
        (ServerError(400, "top_k: not taken", "top_k"), "top_k"),
        (ServerError(400, "Unrecognized request argument supplied: min_p"), "min_p"),
        (
            ServerError(400, "Unrecognized request arguments supplied: min_p, top_k"),
            None,
        ),  # which one? ask again as is: no
        (ServerError(400, "prompt is too long"), None),
        (ServerError(500, "top_k", "top_k"), None),  # not a refusal
        (ServerError(400, "max_tokens: must be at least 1", "max_tokens"), None),  # cannot be left out
    ],
)
def test_which_field_a_400_refuses(error: ServerError, field: str | None) -> None:
    sent = completion_body("x", SamplingParams(), 1, logprobs=5)
    assert refused_field(error, sent) == field


def test_model_lists_of_serve_vllm_llama_cpp_and_ollama() -> None:
    raw = {
        "data": [
            {"id": "tiny", "context_length": 16, "vocab_size": 60, "n_params": 1000},
            {"id": "meta-llama/Llama-3.1-8B", "max_model_len": 8192},
            {"id": "model.gguf", "meta": {"n_ctx_train": 4096, "n_vocab": 32000, "n_params": 7_000_000_000}},
            {"id": "llama3.2:latest", "object": "model"},
            {"object": "model"},  # no id: not a model
        ]
    }
    assert parse_models(json.dumps(raw)) == [
        ServedModel("tiny", 16, 60, 1000),
        ServedModel("meta-llama/Llama-3.1-8B", 8192),
        ServedModel("model.gguf", 4096, 32000, 7_000_000_000),
        ServedModel("llama3.2:latest"),
    ]
    with pytest.raises(WireError):
        parse_models(b"[]")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40), json_values.map(json.dumps), st.dictionaries(chunk_keys, json_values).map(json.dumps)
    )
)
def test_any_stream_event_is_a_chunk_or_a_wire_error(data: str) -> None:
    try:
        chunk = parse_chunk(data)
    except WireError:
        return
    assert isinstance(chunk.text, str)
    for token in chunk.tokens or ():
        assert isinstance(token.text, str) and (token.logprob is None or not math.isnan(token.logprob))


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {"choices": st.lists(st.fixed_dictionaries({"text": st.text(max_size=5), "logprobs": json_values}), max_size=2)}
    ).map(json.dumps)
)
def test_any_logprobs_value_is_read_or_refused_in_words(data: str) -> None:
    try:
        parse_chunk(data)
    except WireError as e:
        assert str(e)


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_error_body_becomes_a_short_message(status: int, raw: bytes) -> None:
    error = error_of(status, raw)
    assert error.status == status and error.message and len(error.message) <= MESSAGE_CHARS
    assert "\x1b" not in error.message


@settings(max_examples=200, deadline=None)
@given(json_values.map(json.dumps) | st.text(max_size=30))
def test_any_model_list_is_models_or_a_wire_error(raw: str) -> None:
    try:
        models = parse_models(raw)
    except WireError:
        return
    assert all(isinstance(m.id, str) and m.context_length >= 0 for m in models)


@pytest.mark.parametrize("logprob", ["1.5", "NaN", "Infinity", '"-1"', "true"])
def test_a_logprob_that_is_no_log_probability_is_a_wire_error(logprob: str) -> None:
    raw = '{"choices":[{"text":"a","logprobs":{"tokens":["a"],"token_logprobs":[LP]}}]}'.replace("LP", logprob)
    with pytest.raises(WireError, match="log-probability"):
        parse_chunk(raw)
