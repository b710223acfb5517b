"""The CDN as steering sees it: discovery's UP nodes and their last ``/node`` reports.

Reports are polled in the background and cached; ``nodes()`` only reads the cache,
so a start never waits on a CDN node. A node whose poll fails counts as unhealthy
until a poll succeeds again (a killed node drops out within one interval, long
before the registry evicts it).

| usage | effect |
|---|---|
| ``poller = NodePoller(discovery, pool, interval=2.0)`` | no I/O yet |
| ``task = asyncio.create_task(poller.run())`` | polls every node each interval |
| ``poller.nodes()`` | ``NodeState`` per UP node, from memory |
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from matinee.platform.http import Transport
from matinee.platform.identity import identity_headers
from matinee.platform.instances import Instance, Resolver
from matinee.services.playback.domain.model import NodeState

__all__ = ["NodePoller", "node_state"]

log = logging.getLogger("matinee.playback.nodes")


@dataclass(frozen=True, slots=True)
class _Report:
    ok: bool
    body: dict[str, Any]


def node_state(instance: Instance, report: dict[str, Any] | None, *, ok: bool = True) -> NodeState:
    """Merge a discovery entry with its last ``/node`` report (None: not polled yet)."""
    body = report or {}
    raw_load, raw_assets = body.get("load"), body.get("assets")
    load: dict[str, Any] = raw_load if isinstance(raw_load, dict) else {}
    assets: list[Any] = raw_assets if isinstance(raw_assets, list) else []
    try:
        return NodeState(
            node_id=instance.instance_id,
            url=instance.url,
            region=str(body.get("region") or instance.region or ""),
            isp=str(body.get("isp") or instance.metadata.get("isp", "")),
            healthy=ok and bool(body.get("healthy", True)),
            active_requests=int(load.get("active_requests", 0) or 0),
            bytes_per_s=float(load.get("bytes_per_s", 0.0) or 0.0),
            capacity_bytes=int(body.get("capacity_bytes", 0) or 0),
            used_bytes=int(body.get("used_bytes", 0) or 0),
            assets=frozenset(str(a) for a in assets),
            reported=report is not None,
        )
    except (TypeError, ValueError):
        return NodeState(instance.instance_id, instance.url, instance.region, healthy=ok)


class NodePoller:
    """Keeps the latest report of every CDN node in memory."""

    def __init__(
        self,
        resolver: Resolver,
        transport: Transport,
        *,
        service: str = "cdn",
        interval: float = 2.0,
        timeout: float = 1.0,
    ) -> None:
        self.resolver = resolver
        self.transport = transport
        self.service = service
        self.interval = interval
        self.timeout = timeout
        self._reports: dict[str, _Report] = {}

    def nodes(self) -> list[NodeState]:
        """Return every UP node with its last report; never blocks."""
        out = []
        for inst in self.resolver.instances(self.service):
            report = self._reports.get(inst.instance_id)
            if report is None:
                out.append(node_state(inst, None))
            else:
                out.append(node_state(inst, report.body, ok=report.ok))
        return out

    async def poll_once(self) -> None:
        """Ask every UP node for its report, all at once."""
        instances = list(self.resolver.instances(self.service))
        await asyncio.gather(*(self._poll(inst) for inst in instances))
        live = {inst.instance_id for inst in instances}
        for gone in set(self._reports) - live:
            del self._reports[gone]

    async def _poll(self, inst: Instance) -> None:
        previous = self._reports.get(inst.instance_id)
        error: Exception | None = None
        try:
            response = await self.transport.send(
                "GET", f"{inst.url}/node", headers=identity_headers(), body=None,
                timeout=self.timeout,
            )  # fmt: skip
            body = response.json() if response.status == 200 else None
        except Exception as exc:  # refused, reset, timeout, bad JSON: the node is not usable
            body, error = None, exc
        if isinstance(body, dict):
            self._reports[inst.instance_id] = _Report(True, body)
            if previous is not None and not previous.ok:
                log.info("cdn node %s answers again", inst.instance_id)
            return
        if previous is None or previous.ok:
            log.warning("cdn node %s is unhealthy: %s", inst.instance_id, error or "bad report")
        self._reports[inst.instance_id] = _Report(False, previous.body if previous else {})

    async def run(self) -> None:
        """Poll forever, every ``interval`` seconds."""
        while True:
            try:
                await self.poll_once()
            except Exception:  # never let one bad round stop steering's view
                log.exception("polling cdn nodes failed")
            await asyncio.sleep(self.interval)
