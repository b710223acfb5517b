"""The chassis's gate: a service answers only requests that carry a valid identity."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from matinee.platform.errors import ProblemError
from matinee.platform.identity import (
    IDENTITY_HEADER_BYTES,
    IdentitySigner,
    reset_forwarded,
    set_forwarded,
)

__all__ = ["IDENTITY_SCOPE_KEY", "IdentityMiddleware"]

IDENTITY_SCOPE_KEY = "matinee.identity"


class IdentityMiddleware:
    """Verify the signed identity header; 401 problem unless present and valid."""

    def __init__(self, app: ASGIApp, signer: IdentitySigner, open_paths: frozenset[str]) -> None:
        self.app = app
        self.signer = signer
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == IDENTITY_HEADER_BYTES:
                header = value
                break
        try:
            scope[IDENTITY_SCOPE_KEY] = self.signer.verify(header)
        except ProblemError as exc:
            response = exc.to_response(instance=scope["path"])
            await response(scope, receive, send)
            return
        token = set_forwarded(header.decode("latin-1") if header else None)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_forwarded(token)
