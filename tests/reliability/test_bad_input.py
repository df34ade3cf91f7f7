"""The bad-input suite (issue 11, findings 1, 5 and 7; docs/rules.md §1.2 and §1.9 rule 1).

Every case is sent as raw bytes over HTTP to a real server, on SQLite and on PostgreSQL,
twice with one Idempotency-Key (as the SDKs retry). Each must be a 400 request-validation
error naming the field, leave every table that holds customer data exactly as it was,
leave the key unused (the corrected request with the same key then runs), keep the
keep-alive connection, and leave every read of the tenant working.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from conftest import Server

VALIDATION = "https://docs.withorb.com/reference/error-responses#400-request-validation-errors"
DECREMENT = b'{"entry_type":"decrement","amount":7}'


@dataclass(frozen=True)
class World:
    """A customer with credits and a block, that every case aims at."""

    http: httpx.Client
    customer_id: str
    block_id: str


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    http = server.http()
    customer = http.post("/customers", json={"name": "Target", "email": "t@example.com"}).json()
    for amount in (100, 50):
        made = http.post(
            f"/customers/{customer['id']}/credits/ledger_entry",
            json={"entry_type": "increment", "amount": amount, "per_unit_cost_basis": "0.5"},
        )
        assert made.status_code == 201, made.text
    yield World(http, customer["id"], made.json()["credit_block"]["id"])
    http.close()


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # {c} is the customer id, {b} the block id
    body: bytes | None = None
    content_type: str | None = "application/json"
    field: str | None = None  # the field the error must name (a prefix is enough)
    fixed: bytes | None = None  # the corrected body, sent afterwards with the same key

    def url(self, w: World) -> str:
        return self.path.replace("{c}", w.customer_id).replace("{b}", w.block_id)


LEDGER = "/customers/{c}/credits/ledger_entry"
DEEP = b'{"entry_type":"decrement","amount":7,"metadata":' + b"[" * 100_000 + b"]" * 100_000
DEEP += b"}"
NEST_33 = b'{"entry_type":"decrement","amount":7,"metadata":{"a":' + b"[" * 31 + b"]" * 31
NEST_33 += b"}}"


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


BODY_CASES = [
    # Finding 1: text that cannot be stored or rendered, on every field that is stored.
    Case("lone-surrogate-metadata-key", "POST", LEDGER,
         b'{"entry_type":"decrement","amount":7,"metadata":{"\\udfff":"v"}}', field="metadata",
         fixed=DECREMENT),
    Case("lone-surrogate-metadata-value", "POST", LEDGER,
         b'{"entry_type":"decrement","amount":7,"metadata":{"k":"\\ud83d"}}',
         field="metadata.k", fixed=DECREMENT),
    Case("half-emoji-description", "POST", LEDGER,
         b'{"entry_type":"decrement","amount":7,"description":"cut \\ud83d"}',
         field="description", fixed=DECREMENT),
    Case("nul-description", "POST", LEDGER,
         b'{"entry_type":"decrement","amount":7,"description":"a\\u0000b"}',
         field="description", fixed=DECREMENT),
    Case("nul-currency", "POST", LEDGER,
         b'{"entry_type":"increment","amount":7,"currency":"cr\\u0000"}', field="currency",
         fixed=b'{"entry_type":"increment","amount":7}'),
    Case("nul-customer-name", "POST", "/customers",
         b'{"name":"a\\u0000","email":"n@example.com"}', field="name",
         fixed=b'{"name":"a","email":"n@example.com"}'),
    Case("nul-external-id", "POST", "/customers",
         b'{"name":"a","email":"n@example.com","external_customer_id":"x\\u0000"}',
         field="external_customer_id", fixed=b'{"name":"a","email":"n@example.com"}'),
    Case("surrogate-customer-metadata", "POST", "/customers",
         b'{"name":"a","email":"n@example.com","metadata":{"\\udfff":"v"}}', field="metadata",
         fixed=b'{"name":"a","email":"n@example.com"}'),
    Case("surrogate-customer-update", "PUT", "/customers/{c}", b'{"name":"\\udc00"}',
         field="name"),
    Case("surrogate-block-metadata", "PUT", "/credit_blocks/{b}",
         b'{"metadata":{"k":"\\udfff"}}', field="metadata.k"),
    Case("invalid-utf8", "POST", LEDGER, b'{"entry_type":"decrement","amount":7,"x":"\xff"}',
         field="body", fixed=DECREMENT),
    # Finding 5: a body nested to death.
    Case("nested-100k", "POST", LEDGER, DEEP, field="body", fixed=DECREMENT),
    Case("nested-33", "POST", LEDGER, NEST_33, field="metadata", fixed=DECREMENT),
    # Finding 7: lenient input.
    Case("duplicate-key", "POST", LEDGER, b'{"entry_type":"decrement","amount":7,"amount":70}',
         field="amount", fixed=DECREMENT),
    Case("duplicate-metadata-key", "POST", LEDGER,
         b'{"entry_type":"decrement","amount":7,"metadata":{"k":"1","k":"2"}}', field="k",
         fixed=DECREMENT),
    Case("arabic-indic-amount", "POST", LEDGER,
         '{"entry_type":"decrement","amount":"\u0667"}'.encode(), field="amount",
         fixed=DECREMENT),
    Case("full-width-amount", "POST", LEDGER,
         '{"entry_type":"decrement","amount":"\uff17"}'.encode(), field="amount",
         fixed=DECREMENT),
    Case("mixed-digits-cost-basis", "POST", LEDGER,
         '{"entry_type":"increment","amount":7,"per_unit_cost_basis":"0.\u0665"}'.encode(),
         field="per_unit_cost_basis", fixed=b'{"entry_type":"increment","amount":7}'),
    Case("nan-amount", "POST", LEDGER, b'{"entry_type":"decrement","amount":NaN}', field="body",
         fixed=DECREMENT),
    Case("infinite-amount", "POST", LEDGER, b'{"entry_type":"decrement","amount":1e999999}',
         field="amount", fixed=DECREMENT),
    Case("no-content-type", "POST", LEDGER, DECREMENT, content_type=None,
         field="Content-Type", fixed=DECREMENT),
    Case("text-plain", "POST", LEDGER, DECREMENT, content_type="text/plain",
         field="Content-Type", fixed=DECREMENT),
    Case("form-encoded", "POST", LEDGER, DECREMENT,
         content_type="application/x-www-form-urlencoded", field="Content-Type",
         fixed=DECREMENT),
    Case("top-level-array", "POST", LEDGER, b"[1]", field="body", fixed=DECREMENT),
]  # fmt: skip

QUERY_CASES = [
    # Finding 5: hand-altered cursors and numbers that do not fit.
    Case("cursor-seq-2^63", "GET", "/customers/{c}/credits/ledger?cursor=SEQ63", field="cursor"),
    Case("cursor-seq-2^64", "GET", "/customers/{c}/credits/ledger?cursor=SEQ64", field="cursor"),
    Case("cursor-nan-cost-basis", "GET", "/customers/{c}/credits?cursor=NAN", field="cursor"),
    Case("cursor-infinite-cost-basis", "GET", "/customers/{c}/credits?cursor=INF",
         field="cursor"),
    Case("cursor-nul-part", "GET", "/customers/{c}/credits?cursor=NUL", field="cursor"),
    Case("cursor-not-base64", "GET", "/customers?cursor=%%%", field="cursor"),
    Case("cursor-nested", "GET", "/customers?cursor=DEEP", field="cursor"),
    Case("limit-23-digits", "GET", "/customers?limit=99999999999999999999999", field="limit"),
    # Finding 7: digits of other scripts in query numbers.
    Case("limit-arabic-indic", "GET", "/customers?limit=%D9%A7", field="limit"),
    Case("limit-full-width", "GET", "/customers?limit=%EF%BC%97", field="limit"),
    Case("limit-underscore", "GET", "/customers?limit=1_0", field="limit"),
    # Finding 1: text in the path and the query.
    Case("nul-in-path", "GET", "/customers/abc%00def", field="path"),
    Case("surrogate-in-path", "GET", "/customers/abc%ED%A0%80", field="path"),
    Case("nul-in-query", "GET", "/customers/{c}/credits/ledger?currency=a%00", field="currency"),
    Case("nul-in-cursor", "GET", "/customers?cursor=a%00", field="cursor"),
]  # fmt: skip


def _query_url(case: Case, w: World) -> str:
    url = case.url(w)
    if "cursor=SEQ" in url or "cursor=NAN" in url or "cursor=INF" in url or "NUL" in url:
        listing = url.split("?")[0].replace(w.customer_id, _customer_with_two_blocks(w))
        first = w.http.get(listing, params={"limit": 1}).json()
        token = first["pagination_metadata"]["next_cursor"]
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = payload["k"]
        if "SEQ" in url:
            key[1] = 2**63 if url.endswith("63") else 2**64
        elif "NAN" in url:
            key[2] = "NaN"
        elif "INF" in url:
            key[2] = "Infinity"
        else:
            key[1] = "\u0000"
        return f"{listing}?cursor={_cursor({'f': payload['f'], 'k': key})}"
    if url.endswith("cursor=DEEP"):
        deep = b'{"f":"x","k":' + b"[" * 5000 + b"]" * 5000 + b"}"
        return url.replace("DEEP", base64.urlsafe_b64encode(deep).decode().rstrip("="))
    return url


def _customer_with_two_blocks(w: World) -> str:
    customer = w.http.post("/customers", json={"name": "Pages", "email": "p@example.com"})
    customer_id: str = customer.json()["id"]
    for amount in (10, 20):
        w.http.post(f"/customers/{customer_id}/credits/ledger_entry",
                    json={"entry_type": "increment", "amount": amount})  # fmt: skip
    return customer_id


def _assert_refused(response: httpx.Response, field: str | None) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == VALIDATION, body
    assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower()
    if field is not None:
        fields = [e["field"] for e in body["validation_errors"]]
        assert any(f.startswith(field) or field in f for f in fields), fields
    assert "idempotent-replayed" not in response.headers


def _reads_still_work(w: World) -> None:
    for path in ("/customers", f"/customers/{w.customer_id}/credits/ledger",
                 f"/customers/{w.customer_id}/credits", f"/customers/{w.customer_id}"):  # fmt: skip
        assert w.http.get(path).status_code == 200, path


@pytest.mark.parametrize("case", BODY_CASES, ids=lambda c: c.name)
def test_bad_body_is_refused_writes_nothing_and_leaves_the_key_unused(
    server: Server, world: World, case: Case
) -> None:
    key = f"bad-{case.name}-{uuid.uuid4().hex[:8]}"
    before = server.snapshot()
    headers = {"Idempotency-Key": key}
    headers["Content-Type"] = case.content_type or ""
    with httpx.Client(base_url=server.base_url) as raw:
        raw.headers["Authorization"] = f"Bearer {server.api_key}"
        for _ in range(3):  # the SDKs retry with the same key
            request = raw.build_request(case.method, case.url(world), content=case.body,
                                        headers=headers)  # fmt: skip
            if case.content_type is None:
                del request.headers["Content-Type"]
            response = raw.send(request)
            _assert_refused(response, case.field)
            assert response.headers.get("connection") != "close"
    assert server.snapshot() == before
    _reads_still_work(world)
    if case.fixed is not None:  # §1.9 rule 1: the key was left unused
        fixed = world.http.request(case.method, case.url(world), content=case.fixed,
                                   headers={"Idempotency-Key": key})  # fmt: skip
        assert fixed.status_code in (200, 201), fixed.text
        assert "idempotent-replayed" not in fixed.headers
        _reads_still_work(world)


@pytest.mark.parametrize("case", QUERY_CASES, ids=lambda c: c.name)
def test_bad_query_path_or_cursor_is_a_400_not_a_500(
    server: Server, world: World, case: Case
) -> None:
    url = _query_url(case, world)
    before = server.snapshot()
    response = world.http.get(url)
    _assert_refused(response, case.field)
    assert response.headers.get("connection") != "close"
    assert world.http.get("/ping").status_code == 200  # same connection, still served
    assert server.snapshot() == before


def test_valid_astral_text_is_stored_and_read_back(server: Server, world: World) -> None:
    """Whole emoji (a surrogate pair in JSON) are fine text, on both databases."""
    body = b'{"entry_type":"decrement","amount":1,"metadata":{"\\ud83d\\ude00":"\\u2713"}}'
    made = world.http.post(LEDGER.replace("{c}", world.customer_id), content=body)
    assert made.status_code == 201, made.text
    assert made.json()["metadata"] == {"\U0001f600": "\u2713"}
    _reads_still_work(world)
    listed = world.http.get(f"/customers/{world.customer_id}/credits/ledger").json()["data"]
    assert listed[0]["metadata"] == {"\U0001f600": "\u2713"}
