"""Bulk Write result files: the rows a job's result zip holds, and Zoho's error cells as ZohoErrors
(download-result.html).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from target_zoho_crm.model import ZohoError


class ResultRow(NamedTuple):
    """The cells of one result-file row that matching reads: the key column and Zoho's verdict."""

    key: str
    status: str
    record_id: str
    errors: str


def result_rows(reader: Iterator[list[str]], key: str) -> list[ResultRow]:
    """download-result.html: a header, then one row per uploaded row with STATUS, RECORD_ID, ERRORS
    and the first mapped columns (a column missing from the file reads as empty)."""
    header = next(reader, None) or []
    where = {name: i for i, name in enumerate(header)}
    k, s, r, e = (where.get(name, -1) for name in (key, "STATUS", "RECORD_ID", "ERRORS"))

    def cell(row: list[str], i: int) -> str:
        return row[i] if 0 <= i < len(row) else ""

    return [ResultRow(cell(row, k), cell(row, s), cell(row, r), cell(row, e)) for row in reader if row]


def parse_errors(cell: str, status: str, job_id: str | None = None) -> ZohoError:
    """`MANDATORY_NOT_FOUND-Company,Last_Name:DUPLICATE_DATA-Email` → a ZohoError (first code first)."""
    errors: list[dict[str, Any]] = []
    for chunk in filter(None, (c.strip() for c in cell.split(":"))):
        code, _, columns = chunk.partition("-")
        for column in columns.split(",") if columns else [""]:
            errors.append({"code": code.strip(), "api_name": column.strip() or None})
    if not errors:
        return ZohoError(
            "CANNOT_PROCESS",
            f"Zoho Bulk Write left this row {status or 'unprocessed'} without an error",
            {"bulk_status": status, "job_id": job_id},
        )
    first = errors[0]
    details: dict[str, Any] = {"api_name": first["api_name"], "bulk_status": status, "job_id": job_id}
    if len(errors) > 1:
        details["errors"] = errors
    return ZohoError(first["code"], f"Zoho Bulk Write {status or 'skipped'} the row: {cell}", details)
