"""The emulator's WSGI app: auth, row-level security, row cap, errors, Date, faults, admin API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from syncd.hubsim import ConnectionAbort, Faults, HubApp, HubStore, ManualClock

START = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
FIRST = "select=*&order=updated_at.asc,id.asc&limit={n}"


class Hub:
    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.store = HubStore(clock=self.clock, seed=2)
        self.lab_a = self.store.create_space("Lab A")["id"]
        self.lab_b = self.store.create_space("Lab B")["id"]
        for space in (self.lab_a, self.lab_b):
            for i in range(3):
                self.store.create_block(space, f"note {i}")
        self.faults = Faults(seed=4)
        self.slept: list[float] = []
        self.app = HubApp(
            self.store,
            tokens={"all-token": "all", "a-token": [str(self.lab_a)]},
            faults=self.faults,
            max_rows=4,
            admin=True,
            sleep=self.slept.append,
        )
        self.client = httpx.Client(transport=httpx.WSGITransport(app=self.app), base_url="http://hub")

    def get(self, path: str, token: str | None = "all-token") -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}", "apikey": token}
        return self.client.get(path, headers=headers)

    def rows(self, resource: str, token: str = "all-token", n: int = 1000) -> list[dict[str, Any]]:
        response = self.get(f"/rest/v1/{resource}?{FIRST.format(n=n)}", token)
        assert response.status_code == 200
        body: list[dict[str, Any]] = response.json()
        return body


@pytest.fixture
def hub() -> Iterator[Hub]:
    built = Hub()
    yield built
    built.client.close()


def assert_error_body(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details", "hint"}
    assert isinstance(body["code"], str)
    assert body["message"]
    return body


def test_serves_rows_as_a_json_array(hub: Hub) -> None:
    spaces = hub.rows("space")
    assert sorted(s["name"] for s in spaces) == ["Lab A", "Lab B"]  # one stamp: ordered by id
    assert set(spaces[0]) >= {"id", "lnid", "name", "description", "created_at", "updated_at", "deleted_at"}


def test_row_cap_returns_at_most_max_rows(hub: Hub) -> None:
    assert len(hub.rows("space_block", n=1000)) == 4
    assert len(hub.rows("space_block", n=2)) == 2


def test_row_level_security_hides_other_spaces_and_their_blocks(hub: Hub) -> None:
    assert [s["id"] for s in hub.rows("space", "a-token")] == [str(hub.lab_a)]
    blocks = hub.rows("space_block", "a-token")
    assert len(blocks) == 3
    assert {b["space_id"] for b in blocks} == {str(hub.lab_a)}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer all-token"},  # apikey missing
        {"apikey": "all-token"},  # Authorization missing
        {"Authorization": "Bearer nope", "apikey": "nope"},
        {"Authorization": "Bearer all-token", "apikey": "a-token"},
        {"Authorization": "Basic all-token", "apikey": "all-token"},
    ],
)
def test_requests_without_a_valid_token_get_401(hub: Hub, headers: dict[str, str]) -> None:
    response = hub.client.get(f"/rest/v1/space?{FIRST.format(n=10)}", headers=headers)
    assert_error_body(response, 401)


def test_malformed_query_gets_400(hub: Hub) -> None:
    body = assert_error_body(hub.get("/rest/v1/space?select=*&order=name.asc&limit=10"), 400)
    assert body["code"] == "PGRST100"
    assert_error_body(hub.get("/rest/v1/space?" + FIRST.format(n=1001)), 400)


@pytest.mark.parametrize("path", ["/rest/v1/spaces", "/rest/v1/artifact", "/rest/v2/space", "/"])
def test_unknown_resource_gets_404(hub: Hub, path: str) -> None:
    assert_error_body(hub.get(f"{path}?{FIRST.format(n=10)}"), 404)


def test_only_get_is_served(hub: Hub) -> None:
    response = hub.client.post("/rest/v1/space", headers={"Authorization": "Bearer all-token"})
    assert_error_body(response, 405)


def test_every_response_has_a_date_from_the_store_clock(hub: Hub) -> None:
    hub.clock.advance(3600)
    for response in (
        hub.get(f"/rest/v1/space?{FIRST.format(n=1)}"),
        hub.get("/nowhere"),
        hub.get("/_sim/stats"),
    ):
        assert parsedate_to_datetime(response.headers["date"]) == START + timedelta(hours=1)


def test_injected_statuses_with_retry_after(hub: Hub) -> None:
    hub.faults.update({"retry_after": 2.5})
    hub.faults.fail_next(1, 429)
    hub.faults.fail_next(1, 503)
    hub.faults.fail_next(1, 500)
    first, second, third = (hub.get(f"/rest/v1/space?{FIRST.format(n=1)}") for _ in range(3))
    assert_error_body(first, 429)
    assert first.headers["retry-after"] == "3"
    assert_error_body(second, 503)
    assert second.headers["retry-after"] == "3"
    assert_error_body(third, 500)
    assert "retry-after" not in third.headers
    assert hub.get(f"/rest/v1/space?{FIRST.format(n=1)}").status_code == 200


def test_error_rates_follow_the_seed(hub: Hub) -> None:
    hub.faults.update({"error_rates": {503: 0.3, 429: 0.2}, "seed": 11})
    statuses = [hub.get(f"/rest/v1/space?{FIRST.format(n=1)}").status_code for _ in range(200)]
    hub.faults.update({"seed": 11})
    again = [hub.get(f"/rest/v1/space?{FIRST.format(n=1)}").status_code for _ in range(200)]
    assert statuses == again
    assert 40 <= statuses.count(503) <= 80
    assert 20 <= statuses.count(429) <= 60
    assert set(statuses) == {200, 429, 503}


def test_truncated_body_is_not_json(hub: Hub) -> None:
    hub.faults.fail_next(1, "truncate")
    response = hub.get(f"/rest/v1/space?{FIRST.format(n=10)}")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_reset_drops_the_connection(hub: Hub) -> None:
    hub.faults.fail_next(1, "reset")
    with pytest.raises(ConnectionAbort):
        hub.get(f"/rest/v1/space?{FIRST.format(n=10)}")
    assert hub.get("/_sim/stats").json()["requests"]["space"] == {"reset": 1}


def test_latency_goes_through_the_injected_sleep(hub: Hub) -> None:
    hub.faults.update({"latency_ms": 250})
    assert hub.get(f"/rest/v1/space?{FIRST.format(n=1)}").status_code == 200
    assert hub.slept == [0.25]


def test_down_mode(hub: Hub) -> None:
    hub.faults.update({"down": "503"})
    assert [hub.get(f"/rest/v1/space?{FIRST.format(n=1)}").status_code for _ in range(3)] == [503] * 3
    hub.faults.update({"down": "reset"})
    with pytest.raises(ConnectionAbort):
        hub.get(f"/rest/v1/space?{FIRST.format(n=1)}")
    assert hub.get("/_sim/faults").status_code == 200  # the admin API stays up
    hub.faults.update({"down": None})
    assert hub.get(f"/rest/v1/space?{FIRST.format(n=1)}").status_code == 200


def test_admin_faults_and_stats(hub: Hub) -> None:
    put = hub.client.put("/_sim/faults", json={"error_rates": {"503": 1.0}, "retry_after": 0})
    assert put.json()["error_rates"] == {"503": 1.0}
    assert hub.get(f"/rest/v1/space?{FIRST.format(n=1)}").headers["retry-after"] == "0"
    assert hub.client.delete("/_sim/faults").json()["error_rates"] == {}
    hub.client.post("/_sim/faults/next", json={"count": 2, "status": 502})
    codes = [hub.get(f"/rest/v1/space_block?{FIRST.format(n=1)}").status_code for _ in range(3)]
    assert codes == [502, 502, 200]
    stats = hub.client.get("/_sim/stats").json()["requests"]
    assert stats == {"space": {"503": 1}, "space_block": {"502": 2, "200": 1}}
    assert hub.client.delete("/_sim/stats").json() == {"requests": {}}
    assert hub.client.put("/_sim/faults", json={"bogus": 1}).status_code == 400


def test_admin_row_changes(hub: Hub) -> None:
    created = hub.client.post("/_sim/space", json={"name": "Lab C"})
    assert created.status_code == 201
    space_id = created.json()["id"]
    block = hub.client.post("/_sim/space_block", json={"space_id": space_id, "content": "hi"}).json()
    assert hub.client.post(f"/_sim/space/{space_id}", json={"name": "Lab D"}).json()["name"] == "Lab D"
    version = hub.client.post(f"/_sim/space_block/{block['id']}/version", json={"content": "v2"})
    assert version.status_code == 201
    assert version.json()["lnid"][:16] == block["lnid"][:16]
    tomb = hub.client.post(f"/_sim/space_block/{block['id']}/delete", json={}).json()
    assert tomb["deleted_at"] is not None
    gone = hub.client.post(f"/_sim/space_block/{version.json()['id']}/delete", json={"hard": True})
    assert gone.status_code == 200
    assert hub.client.get(f"/_sim/space_block/{version.json()['id']}").status_code == 404
    assert hub.client.post(f"/_sim/space/{uuid.uuid4()}", json={"name": "x"}).status_code == 404
    assert hub.client.post("/_sim/space", json={"name": ""}).status_code == 400
    assert hub.client.get("/_sim/nothing").status_code == 404


def test_admin_late_commit_bulk_and_clock(hub: Hub) -> None:
    assert hub.client.post("/_sim/clock", json={"advance_seconds": 120}).json()["now"] == (
        START + timedelta(seconds=120)
    ).isoformat(timespec="microseconds")
    late = hub.client.post(
        "/_sim/space_block/late",
        json={"row": {"space_id": str(hub.lab_a), "content": "late"}, "age_seconds": 50},
    ).json()
    assert late["updated_at"] == (START + timedelta(seconds=70)).isoformat(timespec="microseconds")
    bulk = hub.client.post("/_sim/space_block/bulk", json={"n": 20, "space_id": str(hub.lab_b)}).json()
    assert len(bulk["ids"]) == 20
    assert len(hub.client.get("/_sim/space_block").json()) == 6 + 1 + 20


def test_admin_clock_needs_a_manual_clock() -> None:
    app = HubApp(HubStore(), admin=True)
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://hub") as client:
        assert client.post("/_sim/clock", json={"advance_seconds": 1}).status_code == 409
        assert client.get("/_sim/clock").json()["manual"] is False


def test_admin_api_is_off_unless_enabled() -> None:
    app = HubApp(HubStore())
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://hub") as client:
        assert client.get("/_sim/stats").status_code == 404


def test_admin_tokens(hub: Hub) -> None:
    listed = hub.client.get("/_sim/tokens").json()
    assert listed == {"all-token": "all", "a-token": [str(hub.lab_a)]}
    hub.client.put("/_sim/tokens", json={"b-token": [str(hub.lab_b)], "a-token": None})
    assert [s["id"] for s in hub.rows("space", "b-token")] == [str(hub.lab_b)]
    assert hub.get(f"/rest/v1/space?{FIRST.format(n=1)}", "a-token").status_code == 401
    assert hub.client.put("/_sim/tokens", json={"c-token": 7}).status_code == 400


def test_injected_non_standard_status(hub: Hub) -> None:
    hub.faults.fail_next(1, 599)
    assert_error_body(hub.get(f"/rest/v1/space?{FIRST.format(n=1)}"), 599)
