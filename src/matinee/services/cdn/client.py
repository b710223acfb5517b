"""The typed client other services (playback, ops tools) use to call CDN nodes.

Steering needs every node's own answer, not any node's: :meth:`CdnClient.node` and
:meth:`CdnClient.prefill` take the instance to ask (from discovery) and go straight
to it with a short timeout; a node that does not answer is None (not healthy).

| call | gives |
|---|---|
| ``cdn = CdnClient(transport=pool)`` | one per process |
| ``await cdn.node(instance)`` | :class:`NodeOut` (health, load, inventory), or None |
| ``await cdn.prefill(instance, ["a1"], window_s=600, rate_mbps=100)`` | :class:`PrefillOut` |
| ``await cdn.prefill_job(instance, job_id)`` | :class:`PrefillOut`, or None |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from matinee.platform.discovery import Instance
from matinee.platform.http import CallFailed, Transport
from matinee.platform.identity import identity_headers
from matinee.platform.telemetry.tracing import outgoing_headers
from matinee.services.cdn.api.schemas import NodeOut, PrefillOut

__all__ = ["CallFailed", "CdnClient", "NodeOut", "PrefillOut"]


class CdnClient:
    """Calls one chosen CDN node at a time."""

    service = "cdn"

    def __init__(self, transport: Transport, *, timeout: float = 0.5) -> None:
        self._transport = transport
        self.timeout = timeout

    async def _call(
        self, instance: Instance, method: str, path: str, body: Any = None
    ) -> tuple[int, bytes] | None:
        headers = {**outgoing_headers(), **identity_headers()}
        raw = None
        if body is not None:
            raw = orjson.dumps(body)
            headers["content-type"] = "application/json"
        try:
            response = await self._transport.send(
                method, instance.url + path, headers=headers, body=raw, timeout=self.timeout
            )
        except (TimeoutError, OSError):
            return None
        return response.status, response.body

    async def node(self, instance: Instance) -> NodeOut | None:
        """Return a node's status, None when it does not answer well."""
        answer = await self._call(instance, "GET", "/node")
        if answer is None or answer[0] != 200:
            return None
        try:
            return NodeOut.model_validate_json(answer[1])
        except ValidationError:
            return None

    async def prefill(
        self,
        instance: Instance,
        assets: Sequence[str],
        *,
        window_s: float | None = None,
        rate_mbps: float | None = None,
    ) -> PrefillOut:
        """Ask a node to fill ``assets`` ahead of demand; raise CallFailed if it cannot."""
        body: dict[str, Any] = {"assets": list(assets)}
        if window_s is not None:
            body["window_s"] = window_s
        if rate_mbps is not None:
            body["rate_mbps"] = rate_mbps
        answer = await self._call(instance, "POST", "/admin/prefill", body)
        if answer is None:
            raise CallFailed(self.service, "connection")
        if answer[0] != 202:
            raise CallFailed(self.service, "upstream_status", last_status=answer[0])
        return PrefillOut.model_validate_json(answer[1])

    async def prefill_job(self, instance: Instance, job_id: str) -> PrefillOut | None:
        """Return a prefill job's progress, None if the node does not know it."""
        answer = await self._call(instance, "GET", f"/admin/prefill/{job_id}")
        if answer is None or answer[0] != 200:
            return None
        return PrefillOut.model_validate_json(answer[1])
