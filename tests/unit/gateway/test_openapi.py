"""The public OpenAPI document: service operations under public paths, edge rules added."""

from __future__ import annotations

from starlette.testclient import TestClient

from matinee.platform.service import ServiceSpec, create_service_app
from matinee.platform.settings import ServiceSettings
from matinee.services.gateway.api.openapi import build_openapi_router, merge_documents
from matinee.services.gateway.domain.routes import RouteTable

TABLE = RouteTable.from_dict(
    {
        "routes": [
            {"method": "GET", "path": "/api/titles/{id}", "service": "catalog",
             "upstream": "/titles/{id}"},
            {"method": "POST", "path": "/api/auth/login", "service": "users",
             "upstream": "/auth/login", "auth": "public"},
        ]
    }
)  # fmt: skip

CATALOG = {
    "paths": {
        "/titles/{title_id}": {
            "get": {
                "summary": "Return one title.",
                "parameters": [{"name": "title_id", "in": "path", "required": True}],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/TitleOut"}
                            }
                        },
                    }
                },
            }
        }
    },
    "components": {"schemas": {"TitleOut": {"type": "object"}}},
}


def test_operations_move_under_public_paths_with_public_parameter_names():
    doc = merge_documents(TABLE, {"catalog": CATALOG})
    op = doc["paths"]["/api/titles/{id}"]["get"]
    assert op["summary"] == "Return one title."
    assert op["parameters"][0]["name"] == "id"
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/catalog.TitleOut"
    assert "catalog.TitleOut" in doc["components"]["schemas"]
    assert op["security"] == [{"bearer": []}]
    assert {"401", "413", "429"} <= set(op["responses"])


def test_public_routes_need_no_token_and_unknown_operations_still_appear():
    doc = merge_documents(TABLE, {"catalog": CATALOG})
    login = doc["paths"]["/api/auth/login"]["post"]
    assert "security" not in login and "401" not in login["responses"]
    assert "users" in login["summary"]


def test_router_names_degraded_services_and_caches_the_document():
    calls = {"catalog": 0}
    now = [0.0]

    async def catalog_doc():
        calls["catalog"] += 1
        return CATALOG

    async def users_doc():
        raise ConnectionError("users is down")

    router = build_openapi_router(
        TABLE, {"catalog": catalog_doc, "users": users_doc}, clock=lambda: now[0]
    )
    app = create_service_app(
        ServiceSpec("gateway"), ServiceSettings(), routers=[router], require_identity=False
    )
    with TestClient(app) as client:
        first = client.get("/api/openapi.json").json()
        assert first["x-matinee-degraded"] == ["users"]
        assert "/api/titles/{id}" in first["paths"]
        client.get("/api/openapi.json")
        assert calls["catalog"] == 1  # served from the cache
        now[0] += 10  # past the short retry of a degraded document
        client.get("/api/openapi.json")
        assert calls["catalog"] == 2
