"""`serve --refuse-field FIELD`: a request that sets FIELD is a 400 naming it (as a server without
that field answers), one that leaves it out is served with the server's own setting."""

from __future__ import annotations

import pytest

from babygpt_tui.serve.errors import APIError
from babygpt_tui.serve.schema import CompletionBody, Defaults, completion_spec, parse_body

REFUSING = Defaults(refused=("top_k", "logprobs"))


@pytest.mark.parametrize("body,param", [(b'{"prompt": "x", "top_k": 0}', "top_k"), (b'{"logprobs": 3}', "logprobs")])
def test_a_refused_field_is_400_naming_it_even_at_its_neutral_value(body: bytes, param: str) -> None:
    with pytest.raises(APIError) as e:
        completion_spec(parse_body(CompletionBody, body), REFUSING)
    assert e.value.status == 400 and e.value.param == param and e.value.message.startswith(f"{param}: ")


def test_leaving_a_refused_field_out_is_served_with_the_servers_setting() -> None:
    spec = completion_spec(parse_body(CompletionBody, b'{"prompt": "x", "top_p": 0.5}'), REFUSING)
    assert spec.request.params.top_p == 0.5 and spec.request.params.top_k == Defaults().params.top_k
    assert spec.logprobs is None
