"""Errors as ``application/problem+json`` (RFC 9457).

Raise a :class:`ProblemError` subclass anywhere in a request and the chassis
turns it into a problem response; unexpected exceptions become a 500 problem
with no internals leaked.

| raise | client sees |
|---|---|
| ``NotFound("title 42 does not exist")`` | 404 problem, ``detail`` set |
| ``BadRequest("bad field", errors=[...])`` | 400 problem with ``errors`` |
| ``Conflict(...)``, ``Unauthorized(...)`` | 409, 401 |
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from starlette.responses import Response

__all__ = [
    "PROBLEM_JSON",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ProblemError",
    "ServiceUnavailable",
    "Unauthorized",
    "problem_response",
]

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """An error a client may cause or see, rendered as a problem document."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str = "", **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions = extensions

    def to_response(self, instance: str = "") -> Response:
        """Render as a problem+json response."""
        return problem_response(
            self.status, self.title, self.detail, instance=instance, **self.extensions
        )


class BadRequest(ProblemError):
    status = 400
    title = "Bad Request"


class Unauthorized(ProblemError):
    status = 401
    title = "Unauthorized"


class Forbidden(ProblemError):
    status = 403
    title = "Forbidden"


class NotFound(ProblemError):
    status = 404
    title = "Not Found"


class Conflict(ProblemError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(ProblemError):
    status = 413
    title = "Payload Too Large"


class ServiceUnavailable(ProblemError):
    status = 503
    title = "Service Unavailable"


def problem_response(
    status: int,
    title: str,
    detail: str = "",
    *,
    instance: str = "",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """Build a problem+json response with the given status and extensions."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)
