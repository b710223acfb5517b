"""Load a catalog and the demo accounts into a running fleet, through the services' APIs.

The seed is a client like any other: it finds catalog and users through the registry,
calls them with a service identity signed by the fleet's secret, and never opens a
service's database. Every step is an upsert or tolerates "already exists", so running
it twice is safe.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from matinee.platform.http import ServiceClient
from matinee.platform.identity import IDENTITY_HEADER, Identity, IdentitySigner
from matinee.seed.datasets import Dataset, sample_series
from matinee.services.catalog.client import CatalogClient

__all__ = [
    "ADMIN_EMAIL",
    "DEMO_EMAIL",
    "DEMO_PROFILES",
    "AccountReport",
    "SeedReport",
    "seed_accounts",
    "seed_catalog",
]

DEMO_EMAIL = "demo@matinee.local"
ADMIN_EMAIL = "admin@matinee.local"
DEMO_PROFILES = (("Alex", "adult"), ("Kids", "kids"))
# Batches in flight: one is written while the previous one's events are published.
_CONCURRENT_BATCHES = 2

Progress = Callable[[str], None]


@dataclass(slots=True)
class AccountReport:
    """An account the seed made (or found already made)."""

    email: str
    password: str | None
    created: bool
    account_id: str = ""
    profiles: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        """Return how the account is shown to the user."""
        password = self.password or "(unchanged: as printed when it was first seeded)"
        profiles = f"  profiles: {', '.join(self.profiles)}" if self.profiles else ""
        return f"  {label:<8}{self.email}  password: {password}{profiles}"


@dataclass(slots=True)
class SeedReport:
    """What a seed run did; ``lines()`` is what ``matinee seed`` and ``up`` print."""

    catalog: str
    source: str
    titles: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    lists: list[str] = field(default_factory=list)
    seconds: float = 0.0
    demo: AccountReport | None = None
    admin: AccountReport | None = None
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return the summary lines, credentials included."""
        out = [
            f"seeded the {self.catalog} catalog: {self.titles:,} titles from {self.source}"
            f" in {self.seconds:.1f} s",
        ]
        if self.skipped:
            out.append(f"  ({self.skipped} rows of the data set have no title and were skipped)")
        if self.lists:
            out.append(f"  curated lists: {', '.join(self.lists)}")
        if self.demo is not None:
            out.append(self.demo.line("demo"))
        if self.admin is not None:
            out.append(self.admin.line("admin"))
        out.extend(f"  WARNING: {w}" for w in self.warnings)
        return out

    def to_json(self) -> dict[str, Any]:
        """Return the report as stored in the data dir's ``seeded`` marker."""

        def account(a: AccountReport | None) -> dict[str, Any] | None:
            if a is None:
                return None
            return {"email": a.email, "password": a.password, "account_id": a.account_id,
                    "profiles": a.profiles}  # fmt: skip

        return {
            "catalog": self.catalog,
            "source": self.source,
            "titles": self.titles,
            "lists": self.lists,
            "demo": account(self.demo),
            "admin": account(self.admin),
            "warnings": self.warnings,
            "lines": self.lines(),
            "at": time.time(),
        }


async def seed_catalog(
    catalog: CatalogClient,
    dataset: Dataset,
    *,
    batch_size: int = 1000,
    with_sample_series: bool = True,
    progress: Progress = lambda _: None,
) -> SeedReport:
    """Upsert the dataset's titles in batches, then its curated lists."""
    started = time.monotonic()
    report = SeedReport(dataset.name, dataset.source, skipped=dataset.skipped)
    titles: list[dict[str, Any]] = list(dataset.titles)
    if with_sample_series:
        titles.append(sample_series())
    batches = [titles[i : i + batch_size] for i in range(0, len(titles), batch_size)]
    gate = asyncio.Semaphore(_CONCURRENT_BATCHES)
    done = 0

    async def load(batch: Sequence[dict[str, Any]]) -> None:
        nonlocal done
        async with gate:
            result = await catalog.upsert_titles(batch)
        report.created += result.created
        report.updated += result.updated
        done += len(batch)
        progress(f"  {done:,}/{len(titles):,} titles")

    await asyncio.gather(*(load(b) for b in batches))
    report.titles = len(titles)
    for seed in dataset.lists:
        await catalog.put_list(
            seed.id, name=seed.name, description=seed.description, title_ids=seed.title_ids
        )
        report.lists.append(f"{seed.name} ({len(seed.title_ids)})")
    report.seconds = time.monotonic() - started
    return report


async def seed_accounts(
    users: ServiceClient,
    signer: IdentitySigner,
    *,
    previous: dict[str, Any] | None = None,
    password: Callable[[], str] = lambda: secrets.token_urlsafe(12),
) -> tuple[AccountReport, AccountReport]:
    """Create the demo account (premium, with profiles) and an admin account."""
    demo = await _account(users, DEMO_EMAIL, password(), plan="premium", roles=[])
    admin = await _account(users, ADMIN_EMAIL, password(), plan="premium", roles=["admin"])
    for report, key in ((demo, "demo"), (admin, "admin")):
        if not report.created and previous and isinstance(previous.get(key), dict):
            # Already there from an earlier seed: show what that one printed.
            report.password = previous[key].get("password")
            report.profiles = list(previous[key].get("profiles") or [])
    if demo.created:
        as_demo = {IDENTITY_HEADER: signer.sign(Identity.account(demo.account_id, plan="premium"))}
        for name, maturity in DEMO_PROFILES:
            response = await users.request(
                "POST",
                "/profiles",
                json={"name": name, "maturity": maturity, "language": "en"},
                headers=as_demo,
            )
            if response.status not in (200, 201, 409):
                response.raise_for_status()
            demo.profiles.append(f"{name} ({maturity})")
    return demo, admin


async def _account(
    users: ServiceClient, email: str, password: str, *, plan: str, roles: list[str]
) -> AccountReport:
    response = await users.request(
        "POST",
        "/admin/accounts",
        json={"email": email, "password": password, "plan": plan, "roles": roles},
    )
    if response.status == 409:
        return AccountReport(email, None, created=False)
    response.raise_for_status()
    return AccountReport(
        email, password, created=True, account_id=str(response.json()["account_id"])
    )
