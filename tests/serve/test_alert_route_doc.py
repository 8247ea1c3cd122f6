"""The REST alert route's published description says who an alert goes to (found by a
new-user test: the OpenAPI docs said "every on-duty unit within", the README and the
service the nearest available units, 3 by default)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from xunfang.serve.api.routers import alerts


def test_the_alert_route_says_the_nearest_available_units() -> None:
    (route,) = [
        r
        for r in alerts.router.routes
        if isinstance(r, APIRoute) and r.path == "/api/alerts" and "POST" in r.methods
    ]
    words = " ".join(route.description.split())
    assert "``units`` (default 3) nearest available units within ``within_min``" in words
    assert "every on-duty unit" not in words
