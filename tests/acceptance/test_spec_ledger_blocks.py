"""Black-box acceptance tests: credit blocks as the ledger sees them: listing rules (R-LIST-1,
E8), a block by id (§2.5, E20), block metadata (§4.17, E21, R-META-2) and the keys every entry
carries (§3.4).

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

from typing import Any

import orb
import pytest
from spec_support import (
    FAR,
    NOT_FOUND,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
)

from conftest import Server

# ============================================================== §4.8 negative balances


def test_R_LIST_1_default_listing_rules(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    neg = api.inc(cid, 5)["credit_block"]["id"]
    api.dec(cid, 8)  # neg = -3
    empty = api.inc(cid, 4, expiry_date=FAR)["credit_block"]["id"]
    api.dec(cid, 4)  # empty = 0
    pos = api.inc(cid, 9, effective_date="2099-01-01T00:00:00Z")["credit_block"][
        "id"
    ]  # pending, listed
    default_ids = {b["id"] for b in api.blocks(cid)}
    assert default_ids == {neg, pos}
    assert {b["id"] for b in api.all_blocks(cid)} == {neg, empty, pos}
    # R-BAL-5
    assert sum(b["balance"] for b in api.blocks(cid)) == api.chain(cid)[-1]["ending_balance"] == 6


def test_E8_effective_date_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    old = api.inc(cid, 1, effective_date="2024-01-01T00:00:00Z")["credit_block"]["id"]
    new = api.inc(cid, 1)["credit_block"]["id"]
    got = api.blocks(cid, **{"effective_date[lt]": "2025-01-01T00:00:00Z"})
    assert [b["id"] for b in got] == [old]
    got = api.blocks(cid, **{"effective_date[gte]": "2025-01-01T00:00:00Z"})
    assert [b["id"] for b in got] == [new]


# ============================================================== §2.5 blocks by id / §4.17 metadata


def test_E21_block_metadata_merge_and_R_META_2(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    e = api.inc(cid, 10, metadata={"a": "1", "b": "2"})
    b = e["credit_block"]["id"]
    r = api.call("PUT", f"/credit_blocks/{b}", 200, json={"metadata": {"b": None, "c": "3"}})
    assert r.json()["metadata"] == {"a": "1", "c": "3"}
    assert api.chain(cid)[0]["metadata"] == {"a": "1", "c": "3"}
    r = api.call("PUT", f"/credit_blocks/{b}", 200, json={})
    assert r.json()["metadata"] == {"a": "1", "c": "3"}
    r = api.call("PUT", f"/credit_blocks/{b}", 200, json={"metadata": None})
    assert r.json()["metadata"] == {}


def test_R_META_2_other_entries_keep_request_metadata(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10)["credit_block"]["id"]
    d = api.dec(cid, 1, metadata={"x": "y"})
    api.call("PUT", f"/credit_blocks/{b}", 200, json={"metadata": {"z": "1"}})
    got = next(e for e in api.chain(cid) if e["id"] == d["id"])
    assert got["metadata"] == {"x": "y"}


def test_E20_unknown_block_is_404(api: Api) -> None:
    assert_error(api.call("GET", "/credit_blocks/nosuchblock12345"), 404, NOT_FOUND)


def test_E20_block_same_shape_as_list_item(api: Api, cust: dict[str, Any]) -> None:
    b = api.inc(cust["id"], 10)["credit_block"]["id"]
    assert api.block(b) == api.blocks(cust["id"])[0]
    keys = {
        "id",
        "balance",
        "maximum_initial_balance",
        "effective_date",
        "expiry_date",
        "per_unit_cost_basis",
        "filters",
        "metadata",
        "status",
        "credit_block_source",
        "credit_allocation",
        "credit_commitment",
    }
    assert keys <= set(api.block(b))


def test_3_4_entry_common_keys_present_on_all_types(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b = api.inc(cid, 10)["credit_block"]["id"]
    api.dec(cid, 12)
    api.entry(cid, entry_type="void", block_id=b, amount=1)
    api.entry(cid, entry_type="amendment", block_id=b, amount=1)
    b2 = api.inc(cid, 5)["credit_block"]["id"]
    api.entry(cid, entry_type="expiration_change", block_id=b2, target_expiry_date="2099-01-01")
    common = {
        "id",
        "entry_type",
        "entry_status",
        "ledger_sequence_number",
        "amount",
        "starting_balance",
        "ending_balance",
        "currency",
        "created_at",
        "credit_block",
        "customer",
        "description",
        "metadata",
    }
    extra = {
        "increment": {"created_invoices"},
        "decrement": {"event_id", "invoice_id", "price_id"},
        "void": {"void_amount", "void_reason"},
        "void_initiated": {"void_amount", "void_reason", "new_block_expiry_date"},
        "expiration_change": {"new_block_expiry_date"},
        "amendment": set(),
    }
    chain = api.chain(cid)
    assert {e["entry_type"] for e in chain} == set(extra)
    for e in chain:
        assert common | extra[e["entry_type"]] <= set(e), e
        assert set(e["credit_block"]) == {"id", "expiry_date", "per_unit_cost_basis", "filters"}


def test_strict_sdk_parses_every_entry_type(server: Server, api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10, effective_date="2020-01-01", expiry_date="2020-06-01")
    b = api.inc(cid, 10)["credit_block"]["id"]
    api.dec(cid, 8)
    api.entry(cid, entry_type="void", block_id=b, amount=10)  # beyond what is left: R-VOID-3
    api.dec(cid, 2)
    with server.client(_strict_response_validation=True) as client:
        page = client.customers.credits.ledger.list(cid)
        assert {e.entry_type for e in page.data} == {
            "increment",
            "credit_block_expiry",
            "void_initiated",
            "void",
            "decrement",
        }
    with pytest.raises(orb.BadRequestError):  # -10 + 21 would pass the ceiling of 10
        server.client().customers.credits.ledger.create_entry(
            cid, entry_type="amendment", block_id=b, amount=21
        )


# ============================================================== additional edge probes


def test_1_7_block_list_pagination(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    ids = [api.inc(cid, 1, expiry_date=f"2099-0{i + 1}-01")["credit_block"]["id"] for i in range(3)]
    got: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = api.call("GET", f"/customers/{cid}/credits", 200, params=params).json()
        got += [b["id"] for b in body["data"]]
        if not body["pagination_metadata"]["next_cursor"]:
            assert body["pagination_metadata"]["has_more"] is False
            break
        params["cursor"] = body["pagination_metadata"]["next_cursor"]
    assert got == ids
    assert api.call("GET", f"/customers/{cid}/credits", params={"limit": 0}).status_code == 400
