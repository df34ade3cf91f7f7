"""Black-box acceptance tests: the ledger listing (§4.1, §4.2, E9-E11): the balance chain,
sequence numbers per currency, filters and keyset pagination.

Every test checks one concrete statement of docs/rules.md against a
running drawdown server (both backends), over raw HTTP so exact wire values are visible.
Shared helpers: spec_support.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from spec_support import (
    FAR,
    NOT_FOUND,
    VALIDATION,
    Api,
    api_fixture,  # noqa: F401 (a fixture)
    assert_error,
    cust_fixture,  # noqa: F401 (a fixture)
    iso,
    ts,
    utcnow,
)

from conftest import unique

# ============================================================== §4.1 / §4.2 chain & sequence


def test_R_BAL_chain_and_R_SEQ_1(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    b1 = api.inc(cid, 100)["credit_block"]["id"]
    api.dec(cid, 30)
    api.inc(cid, 50, expiry_date=FAR)
    api.entry(cid, entry_type="amendment", block_id=b1, amount=10)
    api.entry(cid, entry_type="void", block_id=b1, amount=5)
    api.entry(
        cid, entry_type="expiration_change", block_id=b1, amount=20, target_expiry_date="2099-09-09"
    )
    chain = api.chain(cid)
    assert [e["ledger_sequence_number"] for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0]["starting_balance"] == 0
    for prev, nxt in itertools.pairwise(chain):
        assert nxt["starting_balance"] == prev["ending_balance"]
    sign = {
        "increment": 1,
        "decrement": -1,
        "amendment": 1,
        "void": -1,
        "expiration_change": 0,
        "credit_block_expiry": -1,
        "void_initiated": 0,
    }
    for e in chain:
        assert e["ending_balance"] - e["starting_balance"] == sign[e["entry_type"]] * e["amount"], e
        assert e["amount"] >= 0
    # R-BAL-4 / R-BAL-5
    assert (
        chain[-1]["ending_balance"]
        == 100 - 30 + 50 + 10 - 5
        == sum(b["balance"] for b in api.blocks(cid))
    )


def test_R_SEQ_1_independent_per_currency(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10)
    t = api.inc(cid, 7, currency="tokens")
    api.inc(cid, 5)
    t2 = api.dec(cid, 2, currency="tokens")
    assert (
        t["ledger_sequence_number"] == 1
        and t["starting_balance"] == 0
        and t["currency"] == "tokens"
    )
    assert t2["ledger_sequence_number"] == 2 and t2["ending_balance"] == 5
    assert [e["ledger_sequence_number"] for e in api.chain(cid)] == [1, 2]
    assert api.chain(cid)[-1]["ending_balance"] == 15
    assert [b["balance"] for b in api.blocks(cid, currency="tokens")] == [5]
    assert [b["balance"] for b in api.blocks(cid)] == [10, 5]


def test_R_CUR_3_pricing_unit_case_sensitive(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 3, currency="Tokens")
    assert api.blocks(cust["id"], currency="tokens") == []
    assert len(api.blocks(cust["id"], currency="Tokens")) == 1


def test_E10_without_currency_lists_all_ledgers(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 1)
    api.inc(cid, 2, currency="tokens")
    assert sorted(e["currency"] for e in api.ledger(cid)) == ["credits", "tokens"]
    assert [e["currency"] for e in api.ledger(cid, currency="tokens")] == ["tokens"]


def test_R_SEQ_4_ledger_order_descending_sequence(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 30, expiry_date=FAR)
    api.inc(cid, 30)
    api.dec(cid, 40)  # two entries, same created_at
    seqs = [e["ledger_sequence_number"] for e in api.ledger(cid, currency="credits")]
    assert seqs == [4, 3, 2, 1]


def test_R_SEQ_3_created_at_non_decreasing(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    for i in range(3):
        api.inc(cid, 10 + i, expiry_date=FAR)
    api.dec(cid, 25)
    chain = api.chain(cid)
    stamps = [ts(e["created_at"]) for e in chain]
    assert stamps == sorted(stamps)


def test_1_7_ledger_pagination_keyset_no_dupes(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    for i in range(5):
        api.inc(cid, i + 1)
    body = api.call("GET", f"/customers/{cid}/credits/ledger", 200, params={"limit": 2}).json()
    assert [e["ledger_sequence_number"] for e in body["data"]] == [5, 4]
    assert body["pagination_metadata"]["has_more"] is True
    cursor = body["pagination_metadata"]["next_cursor"]
    api.inc(cid, 99)  # insert at the head after first page
    seqs = [5, 4]
    while cursor:
        body = api.call(
            "GET", f"/customers/{cid}/credits/ledger", 200, params={"limit": 2, "cursor": cursor}
        ).json()
        seqs += [e["ledger_sequence_number"] for e in body["data"]]
        cursor = body["pagination_metadata"]["next_cursor"]
        assert (cursor is not None) == body["pagination_metadata"]["has_more"]
    assert seqs == [5, 4, 3, 2, 1]


def test_1_7_exact_page_boundary_has_more_false(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 1)
    api.inc(cid, 2)
    body = api.call("GET", f"/customers/{cid}/credits/ledger", 200, params={"limit": 2}).json()
    assert len(body["data"]) == 2
    assert body["pagination_metadata"] == {"has_more": False, "next_cursor": None}


def test_R_LIST_3_minimum_amount_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10)
    api.inc(cid, 50)
    api.inc(cid, 49.5)
    got = sorted(e["amount"] for e in api.ledger(cid, minimum_amount="49.5"))
    assert got == [Decimal("49.5"), 50]


def test_E10_entry_type_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 10)
    api.dec(cid, 3)
    got = api.ledger(cid, entry_type="decrement")
    assert [e["entry_type"] for e in got] == ["decrement"]
    assert (
        api.call(
            "GET", f"/customers/{cid}/credits/ledger", params={"entry_type": "bogus"}
        ).status_code
        == 400
    )


def test_E10_created_at_filter(api: Api, cust: dict[str, Any]) -> None:
    cid = cust["id"]
    api.inc(cid, 1)
    future = iso(utcnow() + dt.timedelta(hours=1))
    assert api.ledger(cid, **{"created_at[gte]": future}) == []
    past = iso(utcnow() - dt.timedelta(hours=1))
    assert len(api.ledger(cid, **{"created_at[gte]": past})) == 1


# ============================================================== additional edge probes


def test_1_7_query_datetime_with_space_for_plus(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 1)
    r = api.call(
        "GET",
        f"/customers/{cust['id']}/credits/ledger",
        params={"created_at[gte]": "2020-01-01T00:00:00 00:00"},
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 1


def test_1_7_offset_query_datetime_encoded(api: Api, cust: dict[str, Any]) -> None:
    api.inc(cust["id"], 1)
    r = api.call(
        "GET",
        f"/customers/{cust['id']}/credits/ledger",
        params={"created_at[lt]": "2020-01-01T00:00:00+00:00"},
    )
    assert r.status_code == 200 and r.json()["data"] == []


def test_1_7_default_limit_is_20(api: Api, cust: dict[str, Any]) -> None:
    for _ in range(21):
        api.inc(cust["id"], 1)
    body = api.call("GET", f"/customers/{cust['id']}/credits/ledger", 200).json()
    assert len(body["data"]) == 20
    assert body["pagination_metadata"]["has_more"] is True


def test_E10_invalid_filters_are_400(api: Api, cust: dict[str, Any]) -> None:
    path = f"/customers/{cust['id']}/credits/ledger"
    assert_error(api.call("GET", path, params={"entry_status": "done"}), 400, VALIDATION)
    assert_error(api.call("GET", path, params={"minimum_amount": "abc"}), 400, VALIDATION)
    assert_error(api.call("GET", path, params={"created_at[gte]": "yesterday"}), 400, VALIDATION)
    assert_error(api.call("GET", path, params={"limit": 101}), 400, VALIDATION)


def test_E9_E11_unknown_external_id_404(api: Api) -> None:
    ext = unique("missing")
    assert_error(api.call("GET", f"/customers/external_customer_id/{ext}/credits"), 404, NOT_FOUND)
    assert_error(
        api.call("GET", f"/customers/external_customer_id/{ext}/credits/ledger"), 404, NOT_FOUND
    )
    r = api.call(
        "POST",
        f"/customers/external_customer_id/{ext}/credits/ledger_entry",
        json={"entry_type": "increment", "amount": 1},
    )
    assert_error(r, 404, NOT_FOUND)


def test_R_CUR_3_pricing_unit_length_limit(api: Api, cust: dict[str, Any]) -> None:
    assert (
        api.entry_raw(cust["id"], entry_type="increment", amount=1, currency="u" * 65).status_code
        == 400
    )
    api.inc(cust["id"], 1, currency="u" * 64)


def test_R_CUR_2_listing_normalises_and_mismatch_is_empty(api: Api) -> None:
    c = api.customer(currency="USD")
    api.inc(c["id"], 2, currency="USD")
    assert [b["balance"] for b in api.blocks(c["id"], currency="usd")] == [2]
    assert api.ledger(c["id"], currency="EUR") == []
    assert len(api.ledger(c["id"], currency="usd")) == 1
