"""The app's routes as it serves them, for tests that must cover every one (a route added later
is covered without touching them)."""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts

from costcouncil.api.app import create_app
from costcouncil.settings import get_settings
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.live.service import LiveIngest

#: Routes that answer without the ``costs:read`` scope, and why.
PUBLIC = {
    "/health": "liveness for load balancers",
    "/login": "the sign-in form",
    "/logout": "signing out",
    "/favicon.ico": "an empty answer",
    "/static/plotly.min.js": "Plotly's script",
    "/static/{name}": "the dashboard's CSS and JS",
    "/openapi.json": "the API's description",
    "/docs": "the API's interactive description",
    "/docs/oauth2-redirect": "part of /docs",
    "/redoc": "the API's description",
}
#: Values for path parameters (a new route with another parameter must add it here).
PATH_VALUES = {"kind": ["csv", "parquet"], "anomaly_id": ["1", "999999"], "name": ["vision", "no-such"],
               "violation_id": ["1", "999999"]}  # fmt: skip


def figure_routes(org: Workspace) -> list[str]:
    """Every GET path of the app that is not public, path parameters filled in."""
    access = Access.open(org)
    try:
        app = create_app(LiveIngest(org), get_settings(), access, manage=False)
    finally:
        access.close()
    paths = []
    for route in iter_route_contexts(app.routes):  # routers included, as the app serves them
        if route.path is None or "GET" not in (route.methods or ()) or route.path in PUBLIC:
            continue
        names = re.findall(r"{(\w+)}", route.path)
        missing = [n for n in names if n not in PATH_VALUES]
        assert not missing, f"{route.path}: add values for {missing} to PATH_VALUES"
        filled = [route.path]
        for name in names:
            filled = [p.replace(f"{{{name}}}", v) for p in filled for v in PATH_VALUES[name]]
        paths += filled
    return paths
