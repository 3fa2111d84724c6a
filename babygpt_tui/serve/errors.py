"""Errors in the OpenAI shape: `{"error": {"message", "type", "param", "code"}}` with a status code.

OpenAI clients turn the status into an exception class (400 BadRequestError, 401
AuthenticationError, 404 NotFoundError, 413/other APIStatusError, 429 RateLimitError, 503
InternalServerError after retries) and show `message`, so the message says what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The `type` OpenAI (and llama.cpp, vLLM) give each status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
}


@dataclass
class APIError(Exception):
    status: int
    message: str
    param: str | None = None
    code: str | None = None

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": ERROR_TYPES.get(self.status, "invalid_request_error"),
                "param": self.param,
                "code": self.code,
            }
        }


def bad_field(param: str, message: str) -> APIError:
    """400 for one request field; the message starts with the field's name."""
    return APIError(400, f"{param}: {message}", param=param, code="invalid_value")
