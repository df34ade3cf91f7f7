"""Rules of docs/rules.md on customers and metadata (R-CUS, R-META) plus the transport
conventions of §1.7 pagination, §1.8 error shapes and §1.9 idempotency, checked through a
live server."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import orb
import pytest
from rules_helpers import (
    ERROR_PREFIX,
    customer,
    decrement,
    increment,
    purchase,
    raw_rejected,
    rejected,
)

from conftest import Server, unique

# --- R-CUS ---------------------------------------------------------------------------------


def test_R_CUS_1_external_id_conflict_on_update_is_duplicate(
    server: Server, client: orb.Orb
) -> None:
    taken = customer(client).external_customer_id
    bare = client.customers.create(name="Bare", email="bare@example.com")
    rejected(
        server, orb.BadRequestError, "400-duplicate-resource-creation",
        client.customers.update, bare.id, external_customer_id=taken,
    )  # fmt: skip
    rejected(
        server, orb.BadRequestError, "400-duplicate-resource-creation",
        client.customers.create, name="Dup", email="d@example.com", external_customer_id=taken,
    )  # fmt: skip


def test_R_CUS_2_currency_and_external_id_set_once_timezone_never(
    server: Server, client: orb.Orb
) -> None:
    c = client.customers.create(name="Once", email="once@example.com", timezone="Europe/Paris")
    ext = unique()
    assert client.customers.update(c.id, external_customer_id=ext).external_customer_id == ext
    same = client.customers.update_by_external_id(ext, external_customer_id=ext, currency="gbp")
    assert (same.external_customer_id, same.currency) == (ext, "GBP")
    ignored = client.customers.update(c.id, name="Still", extra_body={"timezone": "Asia/Tokyo"})
    assert (ignored.timezone, ignored.name) == ("Europe/Paris", "Still")
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        client.customers.update_by_external_id, ext, external_customer_id=unique(),
    )  # fmt: skip
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        client.customers.update, c.id, currency="USD",
    )  # fmt: skip
    assert client.customers.fetch(c.id).timezone == "Europe/Paris"


def test_R_CUS_3_deleted_customer_is_invisible_everywhere(server: Server, client: orb.Orb) -> None:
    c = customer(client, currency="USD")
    kept = increment(client, c.id, 10).credit_block.id
    bought = purchase(client, c.id, 5, "1")
    invoice_id = bought.created_invoices[0].id
    top_up = client.customers.credits.top_ups.create(
        c.id, currency="credits", threshold="0", amount="10", per_unit_cost_basis="1",
        invoice_settings={"auto_collection": False, "net_terms": 0},
    )  # fmt: skip
    client.invoices.void(invoice_id)
    client.customers.delete(c.id)
    credits = client.customers.credits
    not_found = [
        lambda: client.customers.fetch(c.id),
        lambda: client.customers.fetch_by_external_id(c.external_customer_id),
        lambda: client.customers.update(c.id, name="x"),
        lambda: client.customers.delete(c.id),
        lambda: credits.list(c.id),
        lambda: credits.list_by_external_id(c.external_customer_id),
        lambda: credits.ledger.list(c.id),
        lambda: credits.ledger.create_entry(c.id, entry_type="increment", amount=1),
        lambda: credits.top_ups.list(c.id),
        lambda: credits.top_ups.delete(top_up.id, customer_id=c.id),
        lambda: client.credit_blocks.retrieve(kept),
        lambda: client.credit_blocks.update(kept, metadata={"a": "b"}),
        lambda: client.credit_blocks.delete(kept),
        lambda: client.credit_blocks.list_invoices(kept),
        lambda: client.invoices.fetch(invoice_id),
        lambda: client.invoices.mark_paid(invoice_id, payment_received_date="2030-01-01"),
        lambda: client.invoices.void(invoice_id),
        lambda: client.invoices.issue(invoice_id),
    ]
    for call in not_found:
        rejected(server, orb.NotFoundError, "404-resource-not-found", call)
    assert (
        client.invoices.list(status=["void"], external_customer_id=c.external_customer_id).data
        == []
    )
    assert c.id not in [x.id for x in client.customers.list(created_at_gte=c.created_at)]


def test_R_CUS_3_customers_with_issued_or_paid_invoices_cannot_be_deleted(
    server: Server, client: orb.Orb
) -> None:
    issued = customer(client, currency="USD")
    purchase(client, issued.id, 5, "1")
    paid = customer(client, currency="USD")
    purchase(client, paid.id, 5, "1", mark_as_paid=True)
    for target in (issued, paid):
        rejected(
            server, orb.BadRequestError, "400-constraint-violation",
            client.customers.delete, target.id,
        )  # fmt: skip
        assert client.customers.fetch(target.id).id == target.id


def test_R_CUS_4_new_customer_has_no_ledger_and_empty_pages(server: Server) -> None:
    before = server.snapshot()
    with server.http() as http:
        created = http.post("/customers", json={"name": "New", "email": "new@example.com"})
        assert created.status_code == 201
        cid = created.json()["id"]
        after = server.snapshot()
        assert {t: rows for t, rows in after.items() if rows != before[t]}.keys() == {"customers"}
        empty = {"data": [], "pagination_metadata": {"has_more": False, "next_cursor": None}}
        for path in ("credits", "credits/ledger", "credits/top_ups"):
            response = http.get(f"/customers/{cid}/{path}")
            assert (response.status_code, response.json()) == (200, empty), path
    assert server.snapshot() == after


# --- R-META --------------------------------------------------------------------------------


def test_R_META_1_customer_metadata_merge_remove_clear(client: orb.Orb) -> None:
    c = customer(client, metadata={"a": "1", "b": "2", "gone": None})
    assert c.metadata == {"a": "1", "b": "2"}
    assert customer(client, metadata=None).metadata == {}
    ext = c.external_customer_id
    merged = client.customers.update_by_external_id(ext, metadata={"b": None, "c": "3", "x": None})
    assert merged.metadata == {"a": "1", "c": "3"}
    assert client.customers.update(c.id, name="Renamed").metadata == {"a": "1", "c": "3"}
    assert client.customers.update(c.id, metadata={"a": "9"}).metadata == {"a": "9", "c": "3"}
    assert client.customers.update(c.id, metadata=None).metadata == {}
    assert client.customers.fetch(c.id).metadata == {}


def test_R_META_1_block_metadata_merge_remove_clear_and_limits(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    block_id = increment(client, c.id, 5, metadata={"a": "1", "b": "2"}).credit_block.id
    blocks = client.credit_blocks
    assert blocks.update(block_id, metadata={"b": None, "c": "3"}).metadata == {"a": "1", "c": "3"}
    with server.http() as http:
        response = http.put(f"/credit_blocks/{block_id}", json={"other": 1})
        assert (response.status_code, response.json()["metadata"]) == (200, {"a": "1", "c": "3"})
    for bad in ({"k" * 41: "v"}, {"k": "v" * 501}, {f"k{i}": "v" for i in range(51)}):
        rejected(
            server, orb.BadRequestError, "400-request-validation-errors",
            blocks.update, block_id, metadata=bad,
        )  # fmt: skip
    raw_rejected(
        server, "PUT", f"/credit_blocks/{block_id}", 400, "400-request-validation-errors",
        json={"metadata": ["not", "an", "object"]},
    )  # fmt: skip
    assert blocks.update(block_id, metadata=None).metadata == {}
    assert blocks.retrieve(block_id).metadata == {}


def test_R_META_2_increment_entry_shows_live_block_metadata_others_frozen(
    client: orb.Orb,
) -> None:
    c = customer(client)
    inc = increment(client, c.id, 50, metadata={"tier": "gold"})
    used = decrement(client, c.id, 5, metadata={"job": "42"})
    client.credit_blocks.update(inc.credit_block.id, metadata={"tier": None, "note": "x"})
    listed = {e.id: e.metadata for e in client.customers.credits.ledger.list(c.id)}
    assert listed == {inc.id: {"note": "x"}, used.id: {"job": "42"}}


def test_R_META_3_expiration_change_and_deficit_blocks_start_empty(client: orb.Orb) -> None:
    c = customer(client)
    source = increment(client, c.id, 20, metadata={"a": "1"}).credit_block.id
    client.customers.credits.ledger.create_entry(
        c.id, entry_type="expiration_change", block_id=source, amount=5,
        target_expiry_date="2099-01-01",
    )  # fmt: skip
    blocks = {b.id: b for b in client.customers.credits.list(c.id)}
    [child] = [b for b in blocks.values() if b.id != source]
    assert (child.metadata, blocks[source].metadata) == ({}, {"a": "1"})
    fresh = customer(client)
    deficit = decrement(client, fresh.id, 3, metadata={"m": "1"})
    block = client.credit_blocks.retrieve(deficit.credit_block.id)
    assert (block.metadata, block.balance, block.maximum_initial_balance) == ({}, -3, 0)
    assert (block.expiry_date, block.per_unit_cost_basis, block.filters) == (None, None, [])


# --- §1.7 pagination -----------------------------------------------------------------------


def test_pagination_last_page_has_null_cursor(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    for amount in (1, 2, 3, 4):
        increment(client, c.id, amount)
    with server.http() as http:
        first = http.get(f"/customers/{c.id}/credits/ledger", params={"limit": 2}).json()
        cursor = first["pagination_metadata"]["next_cursor"]
        assert first["pagination_metadata"]["has_more"] is True and isinstance(cursor, str)
        last = http.get(
            f"/customers/{c.id}/credits/ledger", params={"limit": 2, "cursor": cursor}
        ).json()
        assert [e["amount"] for e in last["data"]] == [2, 1]
        assert last["pagination_metadata"] == {"has_more": False, "next_cursor": None}
        exact = http.get(f"/customers/{c.id}/credits", params={"limit": 4}).json()
        assert len(exact["data"]) == 4
        assert exact["pagination_metadata"] == {"has_more": False, "next_cursor": None}


def test_blank_query_params_count_as_absent(server: Server, client: orb.Orb) -> None:
    """The Node SDK sends a param set to `null` as `key=` (the Python SDK drops it)."""
    c = customer(client, currency="USD")
    for amount in (1, 2, 3):
        increment(client, c.id, amount)
    increment(client, c.id, 4, per_unit_cost_basis="1",
              invoice_settings={"auto_collection": False, "net_terms": 0})  # fmt: skip
    blanks = "limit=&cursor=&currency=&created_at%5Bgte%5D=&created_at[lt]=&minimum_amount"
    with server.http() as http:
        ledger = http.get(f"/customers/{c.id}/credits/ledger?limit=2&entry_type=&{blanks}")
        assert ledger.status_code == 200, ledger.text
        assert [e["amount"] for e in ledger.json()["data"]] == [4, 3]
        blocks = http.get(
            f"/customers/{c.id}/credits?include_all_blocks=&effective_date[gt]=&{blanks}"
        )
        assert blocks.status_code == 200, blocks.text
        assert len(blocks.json()["data"]) == 4
        invoices = http.get(f"/invoices?customer_id={c.id}&status=&status%5B%5D=&due_date=&amount=")
        assert invoices.status_code == 200, invoices.text
        assert [i["status"] for i in invoices.json()["data"]] == ["issued"]
        assert http.get(f"/customers?{blanks}").status_code == 200


def test_pagination_cursor_from_other_list_or_filters_is_400(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    for amount in (1, 2, 3):
        increment(client, c.id, amount)
    ledger = client.customers.credits.ledger
    cursor = ledger.list(c.id, limit=1).pagination_metadata.next_cursor
    assert cursor
    other = customer(client)
    increment(client, other.id, 1)
    misuses = [
        lambda: ledger.list(c.id, limit=1, cursor=cursor, entry_type="increment"),
        lambda: ledger.list(other.id, limit=1, cursor=cursor),
        lambda: client.customers.credits.list(c.id, limit=1, cursor=cursor),
        lambda: client.customers.list(limit=1, cursor=cursor),
        lambda: client.invoices.list(limit=1, cursor=cursor),
    ]
    for call in misuses:
        body = rejected(server, orb.BadRequestError, "400-request-validation-errors", call)
        assert body["validation_errors"][0]["field"] == "cursor"
    raw_rejected(
        server, "GET", "/customers", 400, "400-request-validation-errors",
        params={"limit": "ten"},
    )  # fmt: skip
    assert len(ledger.list(c.id, limit=100).data) == 3


# --- §1.8 errors ---------------------------------------------------------------------------


def test_not_found_detail_names_type_and_identifier(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    cases = [
        ("Customer", "noSuchCustomer01", lambda: client.customers.fetch("noSuchCustomer01")),
        (
            "CreditBlock",
            "noSuchBlock00001",
            lambda: client.credit_blocks.retrieve("noSuchBlock00001"),
        ),
        ("Invoice", "noSuchInvoice001", lambda: client.invoices.fetch("noSuchInvoice001")),
        (
            "TopUp",
            "noSuchTopUp00001",
            lambda: client.customers.credits.top_ups.delete("noSuchTopUp00001", customer_id=c.id),
        ),
    ]
    for kind, ident, call in cases:
        body = rejected(server, orb.NotFoundError, "404-resource-not-found", call)
        assert body["status"] == 404
        assert body["title"] == "A specified resource was not found."
        assert (
            body["detail"] == f"Could not find a resource of type {kind} with identifier: {ident}"
        )


# --- §1.9 idempotency ----------------------------------------------------------------------


def test_idempotency_replay_echoes_key_and_returns_original_entry(
    server: Server, client: orb.Orb
) -> None:
    c = customer(client)
    increment(client, c.id, 100)
    ledger = client.customers.credits.ledger.with_raw_response
    key = unique("k")
    first = ledger.create_entry(c.id, entry_type="decrement", amount=10, idempotency_key=key)
    assert first.headers["Idempotency-Key"] == key
    assert "Idempotent-Replayed" not in first.headers
    decrement(client, c.id, 30)  # the ledger moves on
    before = server.snapshot()
    again = ledger.create_entry(c.id, entry_type="decrement", amount=10, idempotency_key=key)
    assert server.snapshot() == before
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.headers["Idempotency-Key"] == key
    assert again.http_response.content == first.http_response.content
    assert again.parse().ending_balance == 90


def test_idempotency_stores_4xx_and_limits_key_length(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    block_id = increment(client, c.id, 5).credit_block.id
    ledger = client.customers.credits.ledger
    key = unique("k4")
    body = {"entry_type": "amendment", "block_id": block_id, "amount": 1}
    rejected(
        server, orb.BadRequestError, "400-constraint-violation",
        ledger.create_entry, c.id, idempotency_key=key, **body,
    )  # fmt: skip
    decrement(client, c.id, 2)  # now the amendment would succeed, but the key replays the 400
    before = server.snapshot()
    with server.http() as http:
        replay = http.post(
            f"/customers/{c.id}/credits/ledger_entry", json=body, headers={"Idempotency-Key": key}
        )
        assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (400, "true")
        assert replay.json()["type"] == ERROR_PREFIX + "400-constraint-violation"
        assert server.snapshot() == before
        response = raw_rejected(
            server, "POST", "/customers", 400, "400-request-validation-errors",
            json={"name": "K", "email": "k@example.com"}, headers={"Idempotency-Key": "k" * 65},
        )  # fmt: skip
        assert response["validation_errors"][0]["field"] == "Idempotency-Key"
        ok = http.post(
            "/customers",
            json={"name": "K", "email": "k@example.com"},
            headers={"Idempotency-Key": unique("k").ljust(64, "x")},
        )
        assert ok.status_code == 201


def test_idempotency_keys_are_ignored_on_get_put_delete(server: Server, client: orb.Orb) -> None:
    c = customer(client)
    key = unique("g")
    with server.http() as http:
        headers = {"Idempotency-Key": key}
        assert http.get(f"/customers/{c.id}", headers=headers).json()["name"] == "Rules"
        first = http.put(f"/customers/{c.id}", json={"name": "One"}, headers=headers)
        second = http.put(f"/customers/{c.id}", json={"name": "Two"}, headers=headers)
        assert (first.json()["name"], second.json()["name"]) == ("One", "Two")
        assert "Idempotent-Replayed" not in second.headers
        fetched = http.get(f"/customers/{c.id}", headers=headers)
        assert (fetched.json()["name"], "Idempotent-Replayed" in fetched.headers) == ("Two", False)
        long_key = {"Idempotency-Key": "g" * 80}
        assert http.get(f"/customers/{c.id}", headers=long_key).status_code == 200
        block_id = increment(client, c.id, 1).credit_block.id
        assert http.delete(f"/credit_blocks/{block_id}", headers=headers).status_code == 204
        assert http.delete(f"/credit_blocks/{block_id}", headers=headers).status_code == 404
        # The POST that follows uses the same key for the first time: it executes.
        created = http.post(
            "/customers", json={"name": "P", "email": "p@example.com"}, headers=headers
        )
        assert created.status_code == 201 and "Idempotent-Replayed" not in created.headers


# A leading space is not among them: HTTP makes the whitespace after the colon part of the
# syntax, not of the value (RFC 9110 §5.5), so " k" arrives as "k" on every server. DEL and
# other control characters are refused by the HTTP parser itself (a plain 400, before the
# application sees the request); the rest reach drawdown and get its 400.
@pytest.mark.parametrize(
    ("key", "by_parser"),
    [("k ", False), ("k\t", False), ("ké", False), ("k\u00a0", False), ("k\x7f", True),
     ("\x01k", True)],
    ids=["trailing-space", "tab", "non-ascii", "nbsp", "del", "control"],
)  # fmt: skip
def test_idempotency_keys_are_printable_ascii_never_trimmed(
    server: Server, key: str, by_parser: bool
) -> None:
    """§1.9: a key is 1-64 printable ASCII characters without a space at either end; a
    client that trims on retry gets a 400, never a second charge under a second key."""
    body = {"name": "K", "email": "k@example.com"}
    before = server.snapshot()
    status, content = _raw_post(server, "/customers", body, {"Idempotency-Key": key})
    assert status == 400, content
    if not by_parser:
        response = json.loads(content)
        assert response["type"] == ERROR_PREFIX + "400-request-validation-errors"
        assert response["validation_errors"][0]["field"] == "Idempotency-Key"
    assert server.snapshot() == before
    with server.http() as http:
        inner = http.post("/customers", json=body, headers={"Idempotency-Key": unique("a b~")})
        assert inner.status_code == 201, inner.text


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "identity, gzip"])
def test_an_encoded_body_is_a_415_and_writes_nothing(server: Server, encoding: str) -> None:
    """§1.2: a body with a Content-Encoding other than identity is refused, not misread."""
    response = raw_rejected(
        server, "POST", "/customers", 415, "415-unsupported-media-type",
        content=b'{"name": "K", "email": "k@example.com"}',
        headers={"Content-Encoding": encoding},
    )  # fmt: skip
    assert response["status"] == 415
    with server.http() as http:
        plain = http.post("/customers", json={"name": "K", "email": "k@example.com"},
                          headers={"Content-Encoding": "identity"})  # fmt: skip
        assert plain.status_code == 201, plain.text


def _raw_post(
    server: Server, path: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, bytes]:
    """A POST written byte for byte: HTTP clients refuse to send the header values these
    tests need (a space at either end, control characters)."""
    url = httpx.URL(server.base_url + path)
    payload = json.dumps(body).encode()
    lines = [f"POST {url.raw_path.decode()} HTTP/1.1", f"Host: {url.host}:{url.port}",
             f"Authorization: Bearer {server.api_key}", "Content-Type: application/json",
             f"Content-Length: {len(payload)}", "Connection: close",
             *(f"{name}: {value}" for name, value in headers.items())]  # fmt: skip
    request = "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + payload
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, content = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), content
