"""Customers through the official SDK (E1–E7), on SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures

import httpx
import orb
import pytest

from conftest import Server, unique


def test_create_returns_every_customer_field(client: orb.Orb) -> None:
    ext = unique()
    customer = client.customers.create(
        name="Acme",
        email="billing@acme.test",
        external_customer_id=ext,
        currency="usd",
        timezone="America/Los_Angeles",
        metadata={"tier": "gold", "gone": None},
    )
    assert customer.external_customer_id == ext
    assert customer.currency == "USD"
    assert customer.timezone == "America/Los_Angeles"
    assert customer.metadata == {"tier": "gold"}
    assert customer.balance == "0.00"
    assert customer.additional_emails == []
    assert customer.auto_collection is False
    assert customer.email_delivery is True
    assert customer.hierarchy.children == [] and customer.hierarchy.parent is None
    assert len(customer.id) == 16 and customer.id.isalnum()


def test_strict_response_validation_accepts_customers(server: Server) -> None:
    strict = orb.Orb(
        api_key=server.api_key,
        base_url=server.base_url,
        _strict_response_validation=True,
        max_retries=0,
    )
    created = strict.customers.create(name="Strict", email="s@example.com")
    assert strict.customers.fetch(created.id).id == created.id


def test_default_timezone_is_utc(client: orb.Orb) -> None:
    assert client.customers.create(name="A", email="a@example.com").timezone == "UTC"


def test_fetch_and_fetch_by_external_id(client: orb.Orb) -> None:
    ext = unique()
    created = client.customers.create(name="B", email="b@example.com", external_customer_id=ext)
    assert client.customers.fetch(created.id).name == "B"
    assert client.customers.fetch_by_external_id(ext).id == created.id


def test_unknown_customer_is_404(client: orb.Orb) -> None:
    with pytest.raises(orb.NotFoundError) as info:
        client.customers.fetch("doesNotExist1234")
    assert info.value.body["type"].endswith("#404-resource-not-found")
    assert "doesNotExist1234" in info.value.body["detail"]


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"currency": "DOGE"}, "currency"),
        ({"email": "not-an-email"}, "email"),
        ({"name": "  "}, "name"),
        ({"additional_emails": ["ok@example.com", "nope"]}, "additional_emails.1"),
        ({"metadata": {"k" * 41: "v"}}, "metadata." + "k" * 41),
    ],
)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    server: Server, client: orb.Orb, fields: dict, bad_field: str
) -> None:
    before = server.snapshot()
    body = {"name": "C", "email": "c@example.com", **fields}
    with pytest.raises(orb.BadRequestError) as info:
        client.customers.create(**body)
    assert info.value.body["type"].endswith("#400-request-validation-errors")
    assert info.value.body["validation_errors"][0]["field"] == bad_field
    assert server.snapshot() == before


def test_wrong_types_and_missing_fields_are_400(server: Server) -> None:
    before = server.snapshot()
    with server.http() as http:
        for body in (
            {"email": "x@example.com"},
            {"name": 5, "email": "x@example.com"},
            {"name": "x", "email": "x@example.com", "auto_collection": "yes"},
            {"name": "x", "email": "x@example.com", "payment_provider": "paypal"},
        ):
            response = http.post("/customers", json=body)
            assert response.status_code == 400, body
            assert response.json()["validation_errors"], body
        bad_json = http.post(
            "/customers", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert bad_json.status_code == 400
        not_object = http.post("/customers", json=[1, 2])
        assert not_object.status_code == 400
    assert server.snapshot() == before


def test_duplicate_external_id_is_rejected(server: Server, client: orb.Orb) -> None:
    ext = unique()
    client.customers.create(name="D", email="d@example.com", external_customer_id=ext)
    before = server.snapshot()
    with pytest.raises(orb.BadRequestError) as info:
        client.customers.create(name="E", email="e@example.com", external_customer_id=ext)
    assert info.value.body["type"].endswith("#400-duplicate-resource-creation")
    assert server.snapshot() == before


def test_update_merges_metadata_and_sets_currency_once(server: Server, client: orb.Orb) -> None:
    created = client.customers.create(
        name="F", email="f@example.com", metadata={"a": "1", "b": "2"}
    )
    updated = client.customers.update(created.id, metadata={"b": None, "c": "3"}, currency="EUR")
    assert updated.metadata == {"a": "1", "c": "3"}
    assert updated.currency == "EUR"
    assert client.customers.update(created.id, currency="eur").currency == "EUR"
    before = server.snapshot()
    with pytest.raises(orb.BadRequestError) as info:
        client.customers.update(created.id, currency="USD")
    assert info.value.body["type"].endswith("#400-constraint-violation")
    assert server.snapshot() == before
    assert client.customers.update(created.id, metadata=None).metadata == {}


def test_update_by_external_id_and_set_external_id_once(client: orb.Orb) -> None:
    created = client.customers.create(name="G", email="g@example.com")
    ext = unique()
    assert client.customers.update(created.id, external_customer_id=ext).external_customer_id == ext
    renamed = client.customers.update_by_external_id(ext, name="G2", email="g2@example.com")
    assert (renamed.name, renamed.email) == ("G2", "g2@example.com")
    with pytest.raises(orb.BadRequestError):
        client.customers.update(created.id, external_customer_id=unique())


def test_delete_hides_customer_and_frees_external_id(client: orb.Orb) -> None:
    ext = unique()
    created = client.customers.create(name="H", email="h@example.com", external_customer_id=ext)
    client.customers.delete(created.id)
    with pytest.raises(orb.NotFoundError):
        client.customers.fetch(created.id)
    with pytest.raises(orb.NotFoundError):
        client.customers.delete(created.id)
    again = client.customers.create(name="H2", email="h@example.com", external_customer_id=ext)
    assert client.customers.fetch_by_external_id(ext).id == again.id


def test_list_paginates_newest_first_without_gaps(client: orb.Orb) -> None:
    first = client.customers.create(name="P0", email="p@example.com")
    ids = [client.customers.create(name=f"P{i}", email="p@example.com").id for i in range(1, 6)]
    page = client.customers.list(limit=2, created_at_gte=first.created_at)
    assert [c.id for c in page.data] == ids[::-1][:2]
    assert page.has_next_page()
    seen = [c.id for c in client.customers.list(limit=2, created_at_gt=first.created_at)]
    assert seen == ids[::-1]


def test_limit_out_of_range_and_bad_cursor_are_400(client: orb.Orb) -> None:
    for kwargs in ({"limit": 0}, {"limit": 101}, {"cursor": "garbage!"}):
        with pytest.raises(orb.BadRequestError):
            client.customers.list(**kwargs)


def test_authentication_failures_are_401(server: Server) -> None:
    bad = orb.Orb(api_key="dd_wrong", base_url=server.base_url, max_retries=0)
    with pytest.raises(orb.AuthenticationError):
        bad.customers.list()
    response = httpx.get(server.base_url + "/no/such/path")
    assert response.status_code == 401
    assert response.json()["type"].endswith("#401-authentication-error")


def test_ping_and_unknown_url(server: Server, client: orb.Orb) -> None:
    assert client.top_level.ping().response == "pong"
    with server.http() as http:
        response = http.get("/no/such/path")
        assert response.status_code == 404
        assert response.json()["type"].endswith("#404-url-not-found")
        assert http.patch("/customers").status_code == 404


def test_oversized_body_is_413_and_writes_nothing(server: Server) -> None:
    before = server.snapshot()
    with server.http() as http:
        big = {"name": "x", "email": "x@example.com", "metadata": {"k": "v" * (1024 * 1024)}}
        response = http.post("/customers", json=big)
    assert response.status_code == 413
    assert response.json()["type"].endswith("#413-request-too-large")
    assert server.snapshot() == before


def test_idempotency_replays_and_rejects_changed_body(server: Server, client: orb.Orb) -> None:
    key = unique("idem")
    first = client.customers.create(name="I", email="i@example.com", idempotency_key=key)
    again = client.customers.with_raw_response.create(
        name="I", email="i@example.com", idempotency_key=key
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.parse().id == first.id
    with pytest.raises(orb.ConflictError) as info:
        client.customers.create(name="other", email="i@example.com", idempotency_key=key)
    assert info.value.response.headers["x-should-retry"] == "false"


def test_idempotency_race_creates_exactly_one_customer(server: Server) -> None:
    key = unique("race")
    ext = unique()
    retrying = server.client(max_retries=8)

    def create() -> str:
        return retrying.customers.with_raw_response.create(
            name="Race", email="r@example.com", external_customer_id=ext, idempotency_key=key
        ).text

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: create(), range(8)))
    assert len(set(bodies)) == 1
    assert retrying.customers.fetch_by_external_id(ext).name == "Race"
    with server.engine.connect() as conn:
        from sqlalchemy import text

        count = conn.execute(
            text("SELECT count(*) FROM customers WHERE external_customer_id = :e"), {"e": ext}
        ).scalar_one()
    assert count == 1


def test_rate_limit_answers_429_with_retry_after(database_factory) -> None:
    from conftest import start_server, stop_server

    server = start_server(
        database_factory("sqlite"),
        env={"DRAWDOWN_RATE_LIMIT_PER_SECOND": "0.5", "DRAWDOWN_RATE_LIMIT_BURST": "3"},
    )
    try:
        client = server.client()
        for _ in range(3):
            client.top_level.ping()
        with pytest.raises(orb.RateLimitError) as info:
            client.top_level.ping()
        assert info.value.body["type"].endswith("#429-too-many-requests")
        assert info.value.response.headers["retry-after"] == "2"
    finally:
        stop_server(server)
