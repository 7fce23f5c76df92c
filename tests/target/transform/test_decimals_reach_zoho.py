"""Currency and decimal values reach Zoho with every digit the field allows, over real HTTP to the
emulator: what goes on the wire is the request body the target sends (a requests response hook reads
it back), and the record is in the module afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import requests

from target_zoho_crm.model import PreparedRecord
from target_zoho_crm.run import connect_client
from target_zoho_crm.transform.convert import RecordConverter
from target_zoho_crm.transform.mapping import FieldMapper
from target_zoho_crm.zoho.client import ZohoClient
from target_zoho_crm.zoho.metadata import ModuleCatalog
from target_zoho_crm.zoho.rest import RestWriter


@pytest.fixture
def client(emulator: Any, target_config: dict[str, Any]) -> Iterator[ZohoClient]:
    c = connect_client(target_config)
    yield c
    c.close()


def test_a_currency_of_sixteen_integer_digits_keeps_its_cents_on_the_wire(
    emulator: Any, client: ZohoClient
) -> None:
    sent: list[bytes] = []

    def keep_body(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.method == "POST" and isinstance(response.request.body, bytes):
            sent.append(response.request.body)

    client.session.hooks["response"].append(keep_body)
    deals = ModuleCatalog(client, "v4").module("Deals")
    record = {"deal_name": "Exact", "stage": "Qualification", "amount": Decimal("1234567890123456.78")}
    mapper = FieldMapper(deals, {key: {} for key in record}, {})
    converter = RecordConverter(deals, mapper, timezone="UTC", operation="insert", api_version="v4")
    payload, errors = converter.convert(record)
    assert errors == []
    writer = RestWriter(client, deals, operation="insert", trigger=[])
    (outcome,) = writer.write_chunk([PreparedRecord(1, record, payload)])

    assert outcome.status == "inserted", outcome
    (body,) = sent
    assert b'"Amount":1234567890123456.78' in body  # a JSON number with every digit, not ...456.8
    exact = msgspec.json.Decoder(float_hook=Decimal).decode(body)["data"][0]["Amount"]
    assert exact == Decimal("1234567890123456.78")
    assert [r["Deal_Name"] for r in emulator.records("Deals")] == ["Exact"]
