"""An intent carries its client order id, the one `client_order_id` defines."""

import msgspec
import pytest

from engine.orders import OrderIntent, client_order_id


def intent(**changes: object) -> OrderIntent:
    fields: dict[str, object] = dict(
        strategy_id="hedge", news_id="n1", symbol="META", qty=-3.0, leg="long", ts_init=7
    )
    return OrderIntent(**{**fields, **changes})  # type: ignore[arg-type]


def test_an_intent_carries_the_id_that_client_order_id_defines() -> None:
    i = intent()
    assert i.client_order_id == client_order_id("hedge", "n1", "META", "long")
    assert i.client_order_id == "so-806f9df98d6af84f14d9d26e9374"  # the id before this change


@pytest.mark.parametrize("field", ["strategy_id", "news_id", "symbol", "leg"])
def test_a_copy_with_another_key_field_gets_that_fields_id(field: str) -> None:
    changed = msgspec.structs.replace(intent(), **{field: "other"})
    assert changed.client_order_id == client_order_id(
        changed.strategy_id, changed.news_id, changed.symbol, changed.leg
    )
    assert changed.client_order_id != intent().client_order_id


def test_an_id_given_to_the_constructor_is_replaced_by_the_derived_one() -> None:
    assert intent(client_order_id="so-forged").client_order_id == intent().client_order_id


def test_intents_round_trip_through_msgspec_with_their_ids() -> None:
    i = intent(reason="why")
    for codec in (msgspec.json, msgspec.msgpack):
        assert codec.decode(codec.encode(i), type=OrderIntent) == i
    without_id = msgspec.json.encode(
        {k: v for k, v in msgspec.structs.asdict(i).items() if k != "client_order_id"}
    )
    assert msgspec.json.decode(without_id, type=OrderIntent).client_order_id == i.client_order_id
    forged = msgspec.json.encode({**msgspec.structs.asdict(i), "client_order_id": "so-forged"})
    assert msgspec.json.decode(forged, type=OrderIntent).client_order_id == i.client_order_id
