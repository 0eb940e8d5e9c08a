"""A client of the running Superset's REST API, logged in as the local admin (the password
from ``BI_ADMIN_PASSWORD`` or the state directory), for the export and the tile queries."""

from __future__ import annotations

import httpx

from pipelines import bi_state
from pipelines.bi import DASHBOARD_SLUG
from pipelines.bi_superset import ADMIN


def base_url() -> str:
    host, port = bi_state.listen_address()
    return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"


def client(url: str, admin_password: str) -> httpx.Client:
    """An API client with the admin's access token."""
    api = httpx.Client(base_url=url, timeout=120)
    login = {"username": ADMIN, "password": admin_password, "provider": "db", "refresh": False}
    answer = api.post("/api/v1/security/login", json=login)
    answer.raise_for_status()
    api.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return api


def local_client(home: bi_state.BiHome | None = None) -> httpx.Client:
    """A client of the Superset `make bi` serves (``BI_HOST``, ``BI_PORT``)."""
    password, _ = bi_state.admin_password(home or bi_state.BiHome(bi_state.DEFAULT_HOME))
    return client(base_url(), password)


def dashboard_id(api: httpx.Client) -> int:
    answer = api.get(f"/api/v1/dashboard/{DASHBOARD_SLUG}")
    answer.raise_for_status()
    return int(answer.json()["result"]["id"])


def dashboard_charts(api: httpx.Client) -> list[dict]:
    """Each chart of the dashboard with its name and saved query context, by name."""
    answer = api.get(f"/api/v1/dashboard/{DASHBOARD_SLUG}/charts")
    answer.raise_for_status()
    charts = []
    for chart in answer.json()["result"]:
        detail = api.get(f"/api/v1/chart/{chart['id']}")
        detail.raise_for_status()
        charts.append(detail.json()["result"])
    return sorted(charts, key=lambda c: c["slice_name"])
