"""`babygpt-tui serve` driven by the official `openai` client: one server for the whole module."""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

import openai
import pytest
import torch

from babygpt_tui.cli import main
from babygpt_tui.engine.checkpoint import load_checkpoint
from tests.serve.server import ServerProcess, http

PROMPT = "明月几时有"
MAX_PROMPT_CHARS = 200


@pytest.fixture(scope="module")
def server(start_server: Any, tiny_checkpoint_file: Path) -> ServerProcess:
    return start_server(
        "--model",
        str(tiny_checkpoint_file),
        "--dtype",
        "float32",
        "--max-queue",
        "1",
        "--max-prompt-chars",
        str(MAX_PROMPT_CHARS),
    )


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> openai.OpenAI:
    # no retries: a 429 or 503 must reach the test, not be retried away
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def complete(client: openai.OpenAI, **kw: Any) -> Any:
    return client.completions.create(model="tiny", **{"prompt": PROMPT, "max_tokens": 40, "seed": 7, **kw})


def generate_text(capsys: pytest.CaptureFixture[str], checkpoint: Path, *flags: str) -> str:
    assert main(["generate", "--model", str(checkpoint), "--dtype", "float32", *flags]) == 0
    return capsys.readouterr().out.removesuffix("\n")  # generate ends with a newline


# ----- models, completions, reproducibility -------------------------------------------------


def test_models_lists_the_served_model(client: openai.OpenAI) -> None:
    models = client.models.list().data
    assert [m.id for m in models] == ["tiny"]
    assert models[0].model_extra and models[0].model_extra["context_length"] == 16


def test_same_seed_same_text_as_generate(client: openai.OpenAI, capsys: Any, tiny_checkpoint_file: Path) -> None:
    flags = ["--prompt", PROMPT, "--seed", "11", "--temperature", "1.3", "--top-k", "20", "--max-new-tokens", "50"]
    expected = generate_text(capsys, tiny_checkpoint_file, *flags)
    got = client.completions.create(
        model="tiny", prompt=PROMPT, seed=11, temperature=1.3, max_tokens=50, extra_body={"top_k": 20}
    )
    assert got.choices[0].text == expected
    assert got.choices[0].finish_reason == "length"
    assert got.usage is not None
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (len(PROMPT), 50)
    other = client.completions.create(
        model="tiny", prompt=PROMPT, seed=12, temperature=1.3, max_tokens=50, extra_body={"top_k": 20}
    )
    assert other.choices[0].text != expected


def test_every_sampling_field_reaches_the_engine(
    client: openai.OpenAI, capsys: Any, tiny_checkpoint_file: Path
) -> None:
    fields = {"top_p": 0.9, "min_p": 0.05, "repetition_penalty": 1.3}
    flags = ["--prompt", PROMPT, "--seed", "3", "--temperature", "1.5", "--max-new-tokens", "40"]
    flags += ["--top-p", "0.9", "--min-p", "0.05", "--repetition-penalty", "1.3"]
    expected = generate_text(capsys, tiny_checkpoint_file, *flags)
    got = client.completions.create(
        model="tiny",
        prompt=PROMPT,
        seed=3,
        temperature=1.5,
        max_tokens=40,
        top_p=fields["top_p"],
        extra_body={"min_p": fields["min_p"], "repetition_penalty": fields["repetition_penalty"]},
    )
    assert got.choices[0].text == expected
    assert got.model_extra and got.model_extra["seed"] == 3


def test_streaming_gives_the_same_text_in_chunks(client: openai.OpenAI) -> None:
    whole = complete(client, temperature=1.0).choices[0].text
    chunks = list(complete(client, temperature=1.0, stream=True, stream_options={"include_usage": True}))
    texts = [c.choices[0].text for c in chunks if c.choices]
    # how many chunks depends on how fast the client reads (tokens ready together share one)
    assert "".join(texts) == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 40


def test_chat_joins_messages_as_one_transcript(client: openai.OpenAI) -> None:
    messages: list[Any] = [
        {"role": "system", "content": "水调歌头\n"},
        {"role": "user", "content": "明月？"},
        {"role": "assistant", "content": "把酒。"},
        {"role": "user", "content": [{"type": "text", "text": "不知"}]},
    ]
    transcript = "水调歌头\n明月？把酒。不知"  # shorter than the tiny model's context: not cropped
    joined = complete(client, prompt=transcript, temperature=1.0).choices[0].text
    chat = client.chat.completions.create(model="tiny", messages=messages, max_tokens=40, seed=7, temperature=1.0)
    assert chat.choices[0].message.content == joined
    assert chat.choices[0].message.role == "assistant"
    assert chat.usage is not None and chat.usage.prompt_tokens == len(transcript)
    stream = client.chat.completions.create(
        model="tiny", messages=messages, max_tokens=40, seed=7, temperature=1.0, stream=True
    )
    deltas = [c.choices[0].delta for c in stream]
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == joined


# ----- logprobs and echo --------------------------------------------------------------------


def test_completion_logprobs_are_raw_top_alternatives(client: openai.OpenAI) -> None:
    got = complete(client, temperature=0, logprobs=3, max_tokens=20)
    lp = got.choices[0].logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.top_logprobs and lp.text_offset is not None
    assert "".join(lp.tokens) == got.choices[0].text and len(lp.tokens) == 20
    assert lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(20)]
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, strict=True):
        values = list(top.values())
        assert len(top) == 3 and values == sorted(values, reverse=True)
        # greedy: the chosen token is the likeliest one, with the same log-probability
        assert next(iter(top)) == token and math.isclose(values[0], logprob, abs_tol=1e-5)
        assert logprob <= 0


def test_streamed_logprobs_match_the_whole_answer(client: openai.OpenAI) -> None:
    whole = complete(client, temperature=1.0, logprobs=2).choices[0].logprobs
    chunks = [c.choices[0].logprobs for c in complete(client, temperature=1.0, logprobs=2, stream=True)]
    assert whole is not None
    assert [t for c in chunks if c for t in c.tokens or []] == whole.tokens
    assert [x for c in chunks if c for x in c.token_logprobs or []] == whole.token_logprobs
    assert [x for c in chunks if c for x in c.text_offset or []] == whole.text_offset


def test_chat_logprobs_content(client: openai.OpenAI) -> None:
    chat = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=10,
        seed=7,
        logprobs=True,
        top_logprobs=2,
    )
    content = chat.choices[0].logprobs and chat.choices[0].logprobs.content
    assert content and "".join(t.token for t in content) == chat.choices[0].message.content
    for t in content:
        assert len(t.top_logprobs) == 2 and t.bytes == list(t.token.encode())
        assert t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob


def test_echo_returns_prompt_and_its_logprobs(client: openai.OpenAI, tiny_checkpoint_file: Path) -> None:
    plain = complete(client, max_tokens=10)
    echoed = complete(client, max_tokens=10, echo=True)
    assert echoed.choices[0].text == PROMPT + plain.choices[0].text
    lp = complete(client, max_tokens=10, echo=True, logprobs=1).choices[0].logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.text_offset
    assert "".join(lp.tokens[: len(PROMPT)]) == PROMPT and lp.token_logprobs[0] is None
    assert lp.text_offset[len(PROMPT)] == len(PROMPT)
    # the prompt's logprobs are the model's own, computed here independently
    loaded = load_checkpoint(tiny_checkpoint_file)
    ids = loaded.tokenizer.encode(PROMPT).ids
    with torch.no_grad():
        logits, _ = loaded.model.eval()(torch.tensor([ids]))
    logp = torch.log_softmax(logits[0], -1)
    for t in range(1, len(ids)):
        assert math.isclose(lp.token_logprobs[t], float(logp[t - 1, ids[t]]), abs_tol=1e-4)


# ----- stop strings -------------------------------------------------------------------------


def test_stop_strings_end_the_reply_before_them(client: openai.OpenAI) -> None:
    full = complete(client, temperature=1.0).choices[0].text
    stop = full[15:17]
    got = complete(client, temperature=1.0, stop=[stop, "\0never"])
    assert got.choices[0].text == full[: full.index(stop)]
    assert got.choices[0].finish_reason == "stop"
    streamed = list(complete(client, temperature=1.0, stop=stop, stream=True))
    assert "".join(c.choices[0].text for c in streamed) == full[: full.index(stop)]
    assert streamed[-1].choices[0].finish_reason == "stop"


# ----- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields,param",
    [
        ({"temperature": -1}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"extra_body": {"top_k": -1}}, "top_k"),
        ({"extra_body": {"min_p": 1.0}}, "min_p"),
        ({"extra_body": {"repetition_penalty": 0}}, "repetition_penalty"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"seed": -1}, "seed"),
        ({"stop": ""}, "stop"),
        ({"stop": [str(i) for i in range(9)]}, "stop"),
        ({"extra_body": {"stop": 3}}, "stop"),
        ({"n": 2}, "n"),
        ({"best_of": 3}, "best_of"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"logit_bias": {"5": 10}}, "logit_bias"),
        ({"logprobs": 50}, "logprobs"),
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"suffix": "x"}, "suffix"),
    ],
)
def test_bad_fields_are_400_naming_the_field(client: openai.OpenAI, fields: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        complete(client, **fields)
    assert e.value.status_code == 400
    body = e.value.body
    assert isinstance(body, dict) and body["param"] == param and body["type"] == "invalid_request_error"
    assert body["message"].startswith(param)


@pytest.mark.parametrize(
    "fields,param",
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user"}], "top_logprobs": 2}, "top_logprobs"),
        ({"messages": [{"content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content[0]"),
        ({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 0}, "max_completion_tokens"),
    ],
)
def test_bad_chat_fields_are_400_naming_the_field(client: openai.OpenAI, fields: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", **fields)
    body = e.value.body
    assert isinstance(body, dict) and body["param"] == param, body


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="gpt-4", prompt=PROMPT, max_tokens=2)
    assert isinstance(e.value.body, dict) and e.value.body["code"] == "model_not_found"
    assert "'tiny'" in e.value.body["message"]
    # the file name works too
    assert client.completions.create(model="tiny.safetensors", prompt=PROMPT, max_tokens=2).choices[0].text


def test_oversized_prompt_and_body_are_413(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as e:
        complete(client, prompt="明" * (MAX_PROMPT_CHARS + 1))
    assert e.value.status_code == 413
    assert isinstance(e.value.body, dict) and e.value.body["param"] == "prompt"
    with pytest.raises(openai.APIStatusError) as e:
        complete(client, prompt="x", extra_body={"padding": "x" * (2 << 20)})
    assert e.value.status_code == 413


def test_bad_json_and_wrong_method_keep_the_error_shape(server: ServerProcess) -> None:
    status, body = http("POST", server.url + "/v1/completions", b'{"prompt": ')
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, body = http("POST", server.url + "/v1/completions", b"[1]")
    assert status == 400 and "JSON object" in body["error"]["message"]
    status, body = http("GET", server.url + "/v1/completions")
    assert status == 405 and body["error"]["message"]
    status, body = http("GET", server.url + "/v2/nothing")
    assert status == 404 and body["error"]["type"] == "not_found_error"


# ----- cancellation and the queue -----------------------------------------------------------


def counts(server: ServerProcess) -> dict[str, int]:
    generations: dict[str, int] = server.health()[1]["generations"]
    return generations


def test_a_client_that_disconnects_cancels_its_stream(client: openai.OpenAI, server: ServerProcess) -> None:
    before = counts(server)["cancelled"]
    stream = complete(client, max_tokens=10**6, stream=True)
    next(iter(stream))  # the generation is running
    stream.close()
    server.wait_until(lambda h: h["generations"]["cancelled"] == before + 1 and not h["running"])
    server.wait_for_line(re.compile(r"cancelled after \d+ tokens \(client disconnected\)"), timeout=30)


def test_a_client_that_gives_up_cancels_its_request(client: openai.OpenAI, server: ServerProcess) -> None:
    before = counts(server)["cancelled"]
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=1.0).completions.create(model="tiny", prompt=PROMPT, max_tokens=10**6)
    server.wait_until(lambda h: h["generations"]["cancelled"] == before + 1 and not h["running"])


def test_requests_queue_behind_one_generation_and_429_beyond(client: openai.OpenAI, server: ServerProcess) -> None:
    rejected = server.health()[1]["rejected"]
    running = complete(client, max_tokens=10**6, stream=True)
    next(iter(running))
    queued: dict[str, Any] = {}

    def wait_in_queue() -> None:
        queued["reply"] = complete(client, max_tokens=5)

    waiter = threading.Thread(target=wait_in_queue)
    waiter.start()
    server.wait_until(lambda h: h["queued"] == 1)
    with pytest.raises(openai.RateLimitError) as e:
        complete(client, max_tokens=5)
    assert isinstance(e.value.body, dict) and e.value.body["code"] == "queue_full"
    assert server.health()[1]["rejected"] == rejected + 1
    assert "reply" not in queued  # still waiting behind the running stream
    running.close()
    waiter.join(timeout=60)
    assert queued["reply"].choices[0].text  # it ran once the stream was cancelled
    server.wait_until(lambda h: not h["running"] and h["queued"] == 0)
