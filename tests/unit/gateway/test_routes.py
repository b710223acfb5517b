"""The route table: data compiled into lookups; what matches, what does not."""

from __future__ import annotations

import pytest

from matinee.services.gateway.domain.routes import RouteTable, RouteTableError, load_route_table

TABLE = """
[defaults]
auth = "user"
timeout = 1.5

[rate_limits.default]
ip_rate = 10
ip_burst = 20
account_rate = 5
account_burst = 10

[[routes]]
method = "GET"
path = "/api/titles/{id}"
service = "catalog"
upstream = "/titles/{id}"

[[routes]]
method = "POST"
path = "/api/auth/login"
service = "users"
upstream = "/auth/login"
auth = "public"

[[routes]]
method = "GET"
path = "/api/files/{rest:path}"
service = "cdn"
upstream = "/objects/{rest}"
"""


def test_the_shipped_table_covers_the_public_api():
    table = load_route_table()
    for method, path, service, upstream in [
        ("POST", "/api/auth/signup", "users", b"/auth/signup"),
        ("POST", "/api/auth/login", "users", b"/auth/login"),
        ("GET", "/api/profiles", "users", b"/profiles"),
        ("DELETE", "/api/profiles/p1", "users", b"/profiles/p1"),
        ("GET", "/api/titles/7", "catalog", b"/titles/7"),
        ("GET", "/api/genres/3/titles", "catalog", b"/genres/3/titles"),
        ("GET", "/api/lists/staff-picks", "catalog", b"/lists/staff-picks"),
        ("GET", "/api/home", "gateway", b"/api/home"),
    ]:
        matched = table.match(method, path)
        assert matched is not None, (method, path)
        route, values = matched
        assert route.service == service
        assert route.upstream_path(values) == upstream
    assert table.match("GET", "/api/auth/login") is None
    assert table.match("POST", "/api/titles/7") is None


def test_patterns_defaults_and_policy():
    table = RouteTable.from_toml(TABLE)
    route, values = table.match("GET", "/api/titles/42")  # type: ignore[misc]
    assert values == {"id": "42"}
    assert route.timeout == 1.5 and route.auth == "user" and route.idempotent
    login, _ = table.match("POST", "/api/auth/login")  # type: ignore[misc]
    assert login.auth == "public" and not login.idempotent
    files, values = table.match("GET", "/api/files/a/b/c.mp4")  # type: ignore[misc]
    assert files.upstream_path(values) == b"/objects/a/b/c.mp4"


@pytest.mark.parametrize(
    "path",
    [
        "/api/titles/42/",
        "/api/titles/",
        "/api/titles/..",
        "/api/titles/1%2F..%2Fadmin",
        "/api/files/a/../secret",
        "/api/files/",
        "/api/titles/42/extra",
    ],
)
def test_unsafe_or_unknown_paths_do_not_match(path):
    assert RouteTable.from_toml(TABLE).match("GET", path) is None


def test_methods_for_a_path():
    table = load_route_table()
    assert table.methods_for("/api/profiles") == ["GET", "POST"]
    assert table.methods_for("/api/nothing") == []


@pytest.mark.parametrize(
    "bad",
    [
        '[[routes]]\nmethod = "GET"\npath = "/x"\n',  # no service
        '[[routes]]\nmethod = "GET"\npath = "/x/{id}"\nservice = "s"\nupstream = "/y/{other}"\n',
        '[[routes]]\nmethod = "GET"\npath = "/x"\nservice = "s"\nauth = "root"\n',
        '[[routes]]\nmethod = "BREW"\npath = "/x"\nservice = "s"\n',
        '[[routes]]\nmethod = "GET"\npath = "/x"\nservice = "s"\nrate_limit = "nope"\n',
        '[[routes]]\nmethod = "GET"\npath = "/x"\nservice = "s"\n'
        '[[routes]]\nmethod = "GET"\npath = "/x"\nservice = "s"\n',
        "not toml [",
    ],
)
def test_invalid_tables_are_refused(bad):
    with pytest.raises(RouteTableError):
        RouteTable.from_toml(bad)
