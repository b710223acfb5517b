"""The values that cross the client's boundary: responses, failures, the transport port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

import orjson

from matinee.platform.errors import ServiceUnavailable
from matinee.platform.instances import Instance

__all__ = [
    "CallFailed",
    "FailureReason",
    "Response",
    "ResponseError",
    "Transport",
    "TransportError",
]

FailureReason = Literal["no_instances", "circuit_open", "timeout", "connection", "upstream_status"]

_EMPTY_HEADERS: Mapping[str, str] = {}


class Response:
    """One HTTP answer: status, headers, body bytes, and the instance that sent it."""

    __slots__ = ("body", "headers", "instance", "status")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        instance: Instance | None = None,
    ) -> None:
        self.status = status
        self.headers: Mapping[str, str] = _EMPTY_HEADERS if headers is None else headers
        self.body = body
        self.instance = instance

    @property
    def ok(self) -> bool:
        """Tell whether the status is below 400."""
        return self.status < 400

    def json(self) -> Any:
        """Decode the body as JSON."""
        return orjson.loads(self.body)

    def text(self) -> str:
        """Decode the body as UTF-8 text."""
        return self.body.decode("utf-8", "replace")

    def raise_for_status(self) -> Response:
        """Raise :class:`ResponseError` for a 4xx/5xx answer; return self otherwise."""
        if self.status >= 400:
            raise ResponseError(self)
        return self

    def __repr__(self) -> str:
        where = self.instance.instance_id if self.instance else "?"
        return f"<Response {self.status} from {where} ({len(self.body)} bytes)>"


class ResponseError(Exception):
    """The callee answered, but with an error status (a 4xx, usually): its answer, not an outage."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response
        self.status = response.status


class TransportError(ConnectionError):
    """The request could not be sent or its answer not read (refused, reset, bad framing)."""


class CallFailed(ServiceUnavailable):
    """No instance of ``service`` gave a usable answer; a caller's fallback starts here.

    Unhandled, the chassis renders it as a 503 problem, never a 500; ``status`` stays
    503 for that reason and the callee's own last status is ``last_status``.
    """

    def __init__(
        self,
        service: str,
        reason: FailureReason,
        *,
        last_status: int | None = None,
        attempts: int = 0,
    ) -> None:
        detail = f"{service} unavailable: {reason}"
        if last_status is not None:
            detail += f" (last status {last_status})"
        super().__init__(detail)
        self.service = service
        self.reason: FailureReason = reason
        self.last_status = last_status
        self.attempts = attempts


class Transport(Protocol):
    """Sends one request to one URL; :class:`HttpPool` is the real one, tests pass fakes.

    Raise ``TimeoutError`` when the answer is late and ``ConnectionError`` (e.g.
    :class:`TransportError`) when the instance cannot be reached; return any answer,
    whatever its status. A transport whose class sets ``enforces_timeout = True``
    promises to give up after ``timeout`` by itself, and the client then arms no
    timer of its own (one timer per call instead of two: a timer costs microseconds).
    """

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,  # noqa: ASYNC109 - part of the port; implementations must honour it
    ) -> Response:
        """Send one request and return the whole answer."""
        ...
