"""What the app needs from whatever runs the model: the engine child process
(`engine_client.EngineClient`) or an OpenAI-compatible server (`remote.client.RemoteClient`).

Both take the engine protocol's requests (`api.Request`: Generate, SetParams, Cancel, Ack, ...)
and post the same Textual messages back (ModelLoaded, TokensGenerated, GenerationFinished, ...),
so the lifecycle and the widgets do not know which one they have. What differs is said by
`capabilities`: a view asks it before it offers something, and shows `unavailable(feature)`
("not available from this server") instead of sending a request that cannot be answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ..api import Request

Feature = Literal["probabilities", "branch", "explain"]
NOT_FROM_SERVER = "not available from this server"
NO_PROBABILITIES = "no probabilities from this server"


@dataclass(frozen=True)
class Capabilities:
    """What the backend can do. The engine process can do everything; a server tells over time
    (a knob it refuses, logprobs it does not send), and each change is posted as
    `messages.CapabilitiesChanged`."""

    server: str = ""  # the server's URL; "" for the engine process
    probabilities: bool = True  # per-token probabilities and alternatives (heat-map, inspector)
    branch: bool = True  # a reply rewritten from a chosen token id (a server knows no token ids)
    explain: bool = True  # the model's internals for one character (attention, sampler stages)
    refused: tuple[tuple[str, str], ...] = ()  # (SamplingParams field, the server's message): knobs not taken

    def unavailable(self, feature: Feature) -> str:
        """'' when `feature` is available, else the words to show instead."""
        if getattr(self, feature):
            return ""
        return NO_PROBABILITIES if feature == "probabilities" else NOT_FROM_SERVER

    @property
    def refused_knobs(self) -> dict[str, str]:
        return dict(self.refused)


class ChatBackend(Protocol):
    """The engine client's interface (see the module docstring)."""

    capabilities: Capabilities
    pid: int  # the engine process's (0 for a server)

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...  # start (or connect) and load: ModelLoaded or ModelLoadFailed follows

    def send(self, request: Request) -> None: ...

    def ack(self, turn: int) -> None: ...  # the last TokensGenerated of `turn` is drawn

    def close(self) -> None: ...
