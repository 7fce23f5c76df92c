"""RecordSpool: a Bulk batch's tap records on disk, read back exactly, from any thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from target_zoho_crm.load.spool import RecordSpool
from target_zoho_crm.model import SpooledRecord, unpack


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": f"Zoë «{i}» 東京",
            "amount": Decimal("12345678901234567890.123456789"),
            "ratio": Decimal("0.1"),
            "flag": i % 2 == 0,
            "missing": None,
            "tags": ["a", "b", str(i)],
            "nested": {"deep": [{"x": i}]},
        }
        for i in range(n)
    ]


def test_records_come_back_as_appended_in_any_order_and_from_other_threads() -> None:
    records = _records(2_000)
    spool = RecordSpool()
    for record in records:
        spool.append(record)
    spool.seal()
    assert len(spool) == len(records)
    handles = list(spool)
    assert all(isinstance(h, SpooledRecord) for h in handles)
    assert unpack(handles[1_999]) == records[1_999] and unpack(handles[0]) == records[0]
    with ThreadPoolExecutor(max_workers=8) as pool:
        read_back = list(pool.map(unpack, reversed(handles)))
    assert read_back == list(reversed(records))
    assert isinstance(read_back[0]["amount"], Decimal)  # numbers keep their exact digits
    spool.close()
    assert spool.closed


def test_a_sealed_spool_takes_no_more_records_and_a_closed_one_refuses_reads() -> None:
    spool = RecordSpool()
    assert not spool.closed and len(spool) == 0  # no file until the first record
    spool.append({"id": 1})
    spool.seal()
    with pytest.raises(RuntimeError, match="sealed"):
        spool.append({"id": 2})
    spool.close()
    assert spool.closed
    with pytest.raises(ValueError, match="after the spool was closed"):
        spool.read(0)  # never a read on a descriptor the OS may have given to another file


def test_reading_before_seal_sees_every_record_appended() -> None:
    """The buffered writes are flushed before the first read (a rejection during conversion)."""
    spool = RecordSpool()
    spool.append({"id": 1, "text": "x" * 300_000})  # larger than the write buffer
    spool.append({"id": 2})
    assert spool.read(1) == {"id": 2} and spool.read(0)["text"] == "x" * 300_000
