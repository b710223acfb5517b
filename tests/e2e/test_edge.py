"""Through the real fleet's edge: sign up, log in, browse with the bearer token."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import signed_headers
from tests.e2e.conftest import Fleet

pytestmark = pytest.mark.e2e


def up(fleet: Fleet, service: str) -> list[dict]:
    return fleet.wait_for(
        lambda rows: any(r["service"] == service and r["status"] == "UP" for r in rows)
    )


async def test_sign_up_log_in_and_browse_through_the_edge(fleet: Fleet):
    rows = up(fleet, "users")
    rows = up(fleet, "catalog")
    catalog = next(r for r in rows if r["service"] == "catalog" and r["status"] == "UP")
    edge = fleet.gateway_url
    async with httpx.AsyncClient(timeout=10) as http:
        stored = await http.put(
            f"{catalog['url']}/admin/titles/603",
            json={"name": "The Matrix", "year": 1999},
            headers=signed_headers(),
        )
        assert stored.status_code in (200, 201)
        unsigned = await http.get(f"{catalog['url']}/titles/603")
        assert unsigned.status_code == 401  # nobody skips the edge

        email, password = "e2e-edge@matinee.test", "correct horse battery"
        signup = await http.post(
            f"{edge}/api/auth/signup", json={"email": email, "password": password}
        )
        assert signup.status_code == 201, signup.text
        login = await http.post(
            f"{edge}/api/auth/login", json={"email": email, "password": password}
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        bearer = {"authorization": f"Bearer {token}"}

        title = await http.get(f"{edge}/api/titles/603", headers=bearer)
        assert title.status_code == 200, title.text
        assert title.json()["name"] == "The Matrix"
        assert title.headers["x-content-type-options"] == "nosniff"

        profiles = await http.get(f"{edge}/api/profiles", headers=bearer)
        assert profiles.status_code == 200, profiles.text

        anonymous = await http.get(f"{edge}/api/titles/603")
        assert anonymous.status_code == 401
        wrong = await http.post(
            f"{edge}/api/auth/login", json={"email": email, "password": "not the password"}
        )
        assert wrong.status_code == 401
        nowhere = await http.get(f"{edge}/api/nowhere", headers=bearer)
        assert nowhere.status_code == 404
        assert nowhere.headers["content-type"] == "application/problem+json"
