"""Bulk Write as Zoho runs it: upload a zipped CSV, create a job, poll it, download the result zip.

Flow and shapes follow Zoho's Bulk Write pages (v2 … v8 say the same):
- upload-file.html: `POST {upload}/crm/{v}/upload`, multipart field `file`, headers `feature: bulk-write`
  and `X-CRM-ORG: <org zgid>`; a zip holding one CSV (simple modules), 25 MB at most
  (`FILE_TOO_LARGE` 413), not a zip → `INVALID_FILE_FORMAT` 400;
- limitations.html: 25,000 rows and 200 columns per CSV, delimiter among `,` `;` `:` `|` detected from
  the header, lookups as `Field.id` / `Field.<related field>` headers, default date format `MM/dd/yyyy`;
- create-job.html: `operation`, `ignore_empty`, `resource[0]` with `module`, `file_id`, `find_by`
  (mandatory for update/upsert), `field_mappings` (`api_name`, `index`, `format`, `find_by`,
  `default_value`); 201 with the job id;
- job-details.html: status ADDED → `IN PROGRESS` (with a space, job and resource level; v8 OAS `Resource.status`) → COMPLETED (or FAILED), `resource[0].file` counts,
  `result.download_url` once completed; an unknown job → 404 `RESOURCE_NOT_FOUND`;
- download-result.html: a zip with `<Module>-<file>.csv`: the first three mapped columns of the upload,
  then `STATUS` (added / updated / skipped / unprocessed), `RECORD_ID`, `ERRORS` as
  `<CODE>-<column>[,<column>][:<CODE>-<column>]`.

Rows are written through `RecordService.write` in chunks of 100, so a row is validated exactly as the
same record sent through REST. Jobs run one at a time on a worker thread (Zoho queues an org's jobs) at
`bulk_rows_per_second`; the fault `bulk_fail_jobs` makes the next N created jobs end FAILED with no row
written.

Not established about Zoho (choices made here): the codes for a missing `feature` / `X-CRM-ORG` header
(400 `MANDATORY_NOT_FOUND`) and a wrong org (400 `INVALID_DATA`); where a CSV over 25,000 rows is
refused (here at upload, 400 `LIMIT_EXCEEDED`); datetime cells without a `format` (accepted as ISO 8601
with offset, Zoho's API format, or `MM/dd/yyyy HH:mm:ss` in the org's time zone); a lookup value that
matches no record (`INVALID_DATA-<column>`, as REST answers); a failed job writes nothing; unknown CSV
headers without `field_mappings` are refused (400 `INVALID_FIELD`) rather than ignored.
"""

from __future__ import annotations

import contextlib
import csv
import io
import queue
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from werkzeug.wrappers import Request, Response

from . import jsonio
from .responses import json_response, request_error
from .state import EmulatorState

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_ROWS = 25_000
MAX_COLUMNS = 200
WRITE_CHUNK = 100
RESULT_KEY_COLUMNS = 3
DEFAULT_DATE_FORMAT = "MM/dd/yyyy"
DEFAULT_DATETIME_FORMAT = "MM/dd/yyyy HH:mm:ss"
DELIMITERS = (",", ";", ":", "|")
LOOKUP_TYPES = frozenset({"lookup", "ownerlookup", "userlookup"})
OPERATIONS = ("insert", "update", "upsert")


class _JobError(Exception):
    """A create-job request Zoho refuses as a whole."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}

    def response(self) -> Response:
        return request_error(400, self.code, self.message, self.details)


# --- Java-style date patterns (Zoho's `format`) → strptime ------------------------------------------------
_TOKEN_RE = re.compile(r"'[^']*'|yyyy|yy|MMMM|MMM|MM|dd|HH|mm|ss|SSS|XXX|Z|.", re.DOTALL)
_TOKENS = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "mm": "%M",
    "ss": "%S",
    "SSS": "%f",
    "XXX": "%z",
    "Z": "%z",
}


def java_to_strptime(pattern: str) -> str:
    """`yyyy-MM-dd'T'HH:mm:ssXXX` → `%Y-%m-%dT%H:%M:%S%z` (raises ValueError on letters it cannot map)."""
    out: list[str] = []
    for token in _TOKEN_RE.findall(pattern):
        if token in _TOKENS:
            out.append(_TOKENS[token])
        elif token.startswith("'") and len(token) >= 2:
            out.append(token[1:-1].replace("%", "%%"))
        elif token.isalpha():
            raise ValueError(f"unsupported pattern letter {token!r}")
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


# --- state ------------------------------------------------------------------------------------------------
@dataclass
class UploadedFile:
    file_id: str
    name: str  # the CSV's name inside the zip
    header: list[str]
    rows: list[list[str]]
    created_time: str


@dataclass
class Mapping:
    api_name: str
    index: int | None
    format: str | None = None
    find_by: str | None = None
    default_value: Any = None

    def as_dict(self) -> dict[str, Any]:
        default = {"value": self.default_value} if self.default_value is not None else None
        return {
            "api_name": self.api_name,
            "index": self.index,
            "format": self.format,
            "find_by": self.find_by,
            "module": None,
            "default_value": default,
        }


@dataclass
class BulkJob:
    job_id: str
    version: str
    operation: str
    module: str
    module_id: str
    upload: UploadedFile
    find_by: str | None
    mappings: list[Mapping]
    ignore_empty: bool
    character_encoding: str
    callback: dict[str, Any] | None
    created_by: dict[str, Any]
    created_time: str
    fail: bool = False
    status: str = "ADDED"
    added: int = 0
    updated: int = 0
    skipped: int = 0
    results: list[tuple[str, str, str]] = field(default_factory=list)  # STATUS, RECORD_ID, ERRORS
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class BulkService:
    """The four Bulk Write endpoints; requests arrive authenticated and charged by the core app."""

    def __init__(self, state: EmulatorState, record_service: Any) -> None:
        self.state = state
        self.records = record_service
        self._lock = threading.Lock()
        self._queue: queue.Queue[BulkJob] = queue.Queue()
        self._worker: threading.Thread | None = None

    # --- storage (kept in state.extras so `reset()` forgets files and jobs) -------------------------------
    def _store(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            bulk = self.state.extras.get("bulk")
            if not isinstance(bulk, dict):
                bulk = self.state.extras["bulk"] = {"files": {}, "jobs": {}}
            return bulk

    def _new_id(self) -> str:
        return self.state.new_id()

    @property
    def rows_per_second(self) -> float:
        rate = getattr(self.state, "bulk_rows_per_second", None) or self.state.config.bulk_rows_per_second
        return max(1.0, float(rate))

    def _org_ids(self, version: str) -> set[str]:
        org = self.state.catalog(version).org or {}
        return {str(org[k]) for k in ("zgid", "id") if org.get(k) not in (None, "")}

    def _tz(self, version: str) -> Any:
        name = (self.state.catalog(version).org or {}).get("time_zone") or "UTC"
        try:
            return ZoneInfo(name)
        except Exception:
            return timezone.utc

    # --- upload ------------------------------------------------------------------------------------------
    def upload(self, request: Request, version: str) -> Response:
        """upload-file.html: headers, multipart `file`, a zip holding one CSV within Zoho's limits."""
        if request.headers.get("feature", "").strip().lower() != "bulk-write":
            return request_error(
                400, "MANDATORY_NOT_FOUND", "the header feature: bulk-write is missing", {"header": "feature"}
            )
        org = request.headers.get("X-CRM-ORG", "").strip()
        if not org:
            return request_error(
                400, "MANDATORY_NOT_FOUND", "the header X-CRM-ORG is missing", {"header": "X-CRM-ORG"}
            )
        if org not in self._org_ids(version):
            return request_error(
                400, "INVALID_DATA", "the X-CRM-ORG header does not name this org", {"header": "X-CRM-ORG"}
            )
        storage = request.files.get("file")
        if storage is None:
            return request_error(400, "MANDATORY_NOT_FOUND", "the file is missing", {"param_name": "file"})
        data = storage.stream.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return request_error(
                413, "FILE_TOO_LARGE", "the file size exceeds 25 MB", {"limit": MAX_FILE_BYTES}
            )
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = [n for n in archive.namelist() if not n.endswith("/")]
        except zipfile.BadZipFile:
            return request_error(400, "INVALID_FILE_FORMAT", "the file is not a zip file", {})
        csvs = [n for n in names if n.lower().endswith(".csv")]
        if len(names) != 1 or len(csvs) != 1:
            return request_error(
                400, "INVALID_FILE_FORMAT", "the zip must hold exactly one CSV file", {"files": names}
            )
        raw = archive.read(csvs[0])
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        first_line = text.split("\n", 1)[0]
        delimiter = max(DELIMITERS, key=first_line.count)
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        if not rows or not any(cell.strip() for cell in rows[0]):
            return request_error(400, "INVALID_FILE_FORMAT", "the CSV file has no header row", {})
        header, body = rows[0], [r for r in rows[1:] if any(cell != "" for cell in r)]
        if len(body) > MAX_ROWS:
            return request_error(
                400, "LIMIT_EXCEEDED", "the CSV file has more than 25,000 records", {"limit": MAX_ROWS}
            )
        if len(header) > MAX_COLUMNS:
            return request_error(
                400, "LIMIT_EXCEEDED", "the CSV file has more than 200 columns", {"limit": MAX_COLUMNS}
            )
        file_id = self._new_id()
        created = self.state.now(version)
        self._store()["files"][file_id] = UploadedFile(file_id, csvs[0], header, body, created)
        return json_response(
            {
                "status": "success",
                "code": "FILE_UPLOAD_SUCCESS",
                "message": "file uploaded.",
                "details": {"file_id": file_id, "created_time": created},
            }
        )

    # --- create job --------------------------------------------------------------------------------------
    def create_job(self, request: Request, version: str) -> Response:
        """create-job.html: validate the whole request, queue the job, answer 201 with its id."""
        try:
            body = jsonio.loads(request.get_data())
        except ValueError:
            return request_error(400, "INVALID_DATA", "the request body is not valid JSON", {})
        try:
            job = self._build_job(body, version)
        except _JobError as exc:
            return exc.response()
        self._store()["jobs"][job.job_id] = job
        self._enqueue(job)
        return json_response(
            {
                "status": "success",
                "code": "SUCCESS",
                "message": "success",
                "details": {"id": job.job_id, "created_by": job.created_by},
            },
            201,
        )

    def _build_job(self, body: Any, version: str) -> BulkJob:
        if not isinstance(body, dict):
            raise _JobError("INVALID_DATA", "the request body must be a JSON object")
        operation = body.get("operation")
        if operation is None:
            raise _JobError(
                "MANDATORY_NOT_FOUND", "Required key operation is not available", {"api_name": "operation"}
            )
        if operation not in OPERATIONS:
            raise _JobError("INVALID_DATA", "invalid operation", {"api_name": "operation"})
        callback = body.get("callback")
        if callback is not None:
            if not isinstance(callback, dict) or not callback.get("url"):
                raise _JobError("INVALID_DATA", "invalid callback", {"api_name": "callback"})
            if str(callback.get("method", "")).lower() != "post":
                raise _JobError(
                    "INVALID_CALLBACK_METHOD",
                    "invalid callback method",
                    {"supported_callback_methods": ["post"]},
                )
        resources = body.get("resource")
        if not isinstance(resources, list) or not resources:
            raise _JobError(
                "MANDATORY_NOT_FOUND", "Required key resource is not available", {"api_name": "resource"}
            )
        if len(resources) > 1:
            raise _JobError(
                "FILE_NOT_SUPPORTED",
                "the emulator runs single-module jobs only (no subform / line-item child files)",
                {"api_name": "resource"},
            )
        res = resources[0]
        if not isinstance(res, dict) or res.get("type", "data") != "data":
            raise _JobError("INVALID_DATA", "resource type must be data", {"api_name": "type"})
        module = (res.get("module") or {}).get("api_name") if isinstance(res.get("module"), dict) else None
        meta = self.state.catalog(version).module(str(module)) if module else None
        if meta is None or meta.get("generated_type") == "subform" or meta.get("api_supported") is False:
            raise _JobError(
                "MODULE_NOT_AVAILABLE", "the module is not available for bulk write", {"api_name": "module"}
            )
        upload = self._store()["files"].get(str(res.get("file_id") or ""))
        if upload is None:
            raise _JobError(
                "INVALID_FILE_ID", "the file id given seems to be invalid", {"api_name": "file_id"}
            )
        schema = self.records.schema(version, str(module))
        find_by = res.get("find_by")
        if operation in ("update", "upsert") and not find_by:
            raise _JobError(
                "MANDATORY_NOT_FOUND", "Required key find_by is not available", {"api_name": "find_by"}
            )
        if find_by and find_by != "id" and find_by not in schema.all_unique_fields:
            raise _JobError(
                "INVALID_DATA", "find_by must be id or a unique field of the module", {"api_name": "find_by"}
            )
        mappings = self._mappings(res.get("field_mappings"), upload, schema, version)
        if len(mappings) > MAX_COLUMNS:
            raise _JobError(
                "HEADER_LIMIT_EXCEEDED", "more than 200 fields are mapped", {"limit": MAX_COLUMNS}
            )
        mapped = {m.api_name for m in mappings}
        if operation == "insert":
            absent = [f for f in schema.mandatory_fields if f not in mapped]
            if absent:
                raise _JobError(
                    "MANDATORY_FIELDS_NOT_MAPPED", "mandatory fields are not mapped", {"api_names": absent}
                )
        if find_by and operation in ("update", "upsert") and find_by not in mapped:
            raise _JobError("INVALID_DATA", "the find_by field is not mapped", {"api_name": "find_by"})
        user = self.state.primary_user(version)
        return BulkJob(
            job_id=self._new_id(),
            version=version,
            operation=operation,
            module=str(module),
            module_id=str(meta.get("id", "")),
            upload=upload,
            find_by=find_by or None,
            mappings=mappings,
            ignore_empty=bool(body.get("ignore_empty", False)),
            character_encoding=str(body.get("character_encoding") or "UTF-8"),
            callback=callback,
            created_by={"id": str(user.get("id")), "name": user.get("full_name") or user.get("name")},
            created_time=self.state.now(version),
            fail=self.state.faults.take_bulk_failure(),
        )

    def _mappings(self, raw: Any, upload: UploadedFile, schema: Any, version: str) -> list[Mapping]:
        """Explicit `field_mappings` (by column index) or, without them, the header's API names."""
        mappings: list[Mapping] = []
        if raw is None:
            for position, header in enumerate(upload.header):
                name, _, sub = header.strip().partition(".")
                mappings.append(Mapping(name, position, find_by=sub or None))
        else:
            if not isinstance(raw, list):
                raise _JobError(
                    "INVALID_DATA", "field_mappings must be a list", {"api_name": "field_mappings"}
                )
            for item in raw:
                if not isinstance(item, dict) or not item.get("api_name"):
                    raise _JobError("MANDATORY_NOT_FOUND", "Required key api_name is not available", {})
                index: Any = item.get("index")
                default = item.get("default_value")
                default_value = default.get("value") if isinstance(default, dict) else None
                if index is None and default_value is None:
                    raise _JobError(
                        "MANDATORY_NOT_FOUND",
                        "index or default_value is required",
                        {"api_name": item["api_name"]},
                    )
                if index is not None and (
                    not isinstance(index, int)
                    or isinstance(index, bool)
                    or not 0 <= index < len(upload.header)
                ):
                    raise _JobError(
                        "COLUMN_INDEX_NOT_FOUND", "the column index is not found", {"index": index}
                    )
                mappings.append(
                    Mapping(
                        str(item["api_name"]), index, item.get("format"), item.get("find_by"), default_value
                    )
                )
        for m in mappings:
            self._check_mapping(m, schema, version)
        return mappings

    def _check_mapping(self, m: Mapping, schema: Any, version: str) -> None:
        if m.api_name == "id":
            return
        spec = schema.writable(m.api_name)
        if spec is None:
            raise _JobError(
                "INVALID_FIELD", "the field is not available for bulk write", {"api_name": m.api_name}
            )
        if m.format is not None:
            if spec.data_type not in ("date", "datetime"):
                raise _JobError(
                    "INVALID_FORMAT", "format is for date and datetime fields", {"api_name": m.api_name}
                )
            try:
                java_to_strptime(m.format)
            except ValueError as exc:
                raise _JobError("INVALID_FORMAT", str(exc), {"api_name": m.api_name}) from None
        if m.find_by is None:
            return
        if spec.data_type not in LOOKUP_TYPES:
            raise _JobError("INVALID_DATA", "find_by is for lookup fields", {"api_name": m.api_name})
        if m.find_by == "id":
            return
        if spec.lookup_module == "Users":
            if m.find_by != "email":
                raise _JobError("INVALID_DATA", "users are found by id or email", {"api_name": m.api_name})
            return
        related = self.records.schema(version, str(spec.lookup_module))
        allowed = {*related.all_unique_fields, related.display_field}
        if m.find_by not in allowed:
            raise _JobError(
                "INVALID_DATA",
                "find_by must be id, a unique field or the name field of the related module",
                {"api_name": m.api_name, "find_by": m.find_by},
            )

    # --- processing --------------------------------------------------------------------------------------
    def _enqueue(self, job: BulkJob) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="emulator-bulk", daemon=True)
                self._worker.start()
        self._queue.put(job)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self._run(job)
            except Exception as exc:  # never leave a job hanging IN PROGRESS
                with job.lock:
                    job.status = "FAILED"
                    job.results = [("unprocessed", "", f"CANNOT_PROCESS-{exc}")]
            self._notify(job)

    def _run(self, job: BulkJob) -> None:
        with job.lock:
            job.status = "IN PROGRESS"
        rows = job.upload.rows
        started = time.monotonic()
        if job.fail:
            time.sleep(min(1.0, len(rows) / self.rows_per_second))
            with job.lock:
                job.status = "FAILED"
            return
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start : start + WRITE_CHUNK]
            results = self._write_chunk(job, chunk)
            with job.lock:
                for status, _rid, _errors in results:
                    if status == "added":
                        job.added += 1
                    elif status == "updated":
                        job.updated += 1
                    else:
                        job.skipped += 1
                job.results.extend(results)
            ahead = (start + len(chunk)) / self.rows_per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        with job.lock:
            job.status = "COMPLETED"

    def _write_chunk(self, job: BulkJob, rows: list[list[str]]) -> list[tuple[str, str, str]]:
        results: list[tuple[str, str, str] | None] = [None] * len(rows)
        records: list[dict[str, Any]] = []
        positions: list[int] = []
        for i, row in enumerate(rows):
            record, errors = self._row_record(job, row)
            if errors:
                results[i] = ("skipped", "", self._errors_cell(job, errors))
            else:
                records.append(record)
                positions.append(i)
        if records:
            answers = self.records.write(
                job.version,
                job.module,
                job.operation,
                records,
                find_by=job.find_by,
            )
            for pos, answer in zip(positions, answers, strict=True):
                if answer.get("status") == "success":
                    action = answer.get("action") or ("insert" if job.operation == "insert" else "update")
                    rid = str((answer.get("details") or {}).get("id", ""))
                    results[pos] = ("added" if action == "insert" else "updated", rid, "")
                else:
                    results[pos] = ("skipped", "", self._errors_cell(job, _flatten(answer)))
        return [r if r is not None else ("unprocessed", "", "") for r in results]

    def _row_record(self, job: BulkJob, row: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """One CSV row → a record in Zoho's JSON formats, or the (code, api_name) errors of its cells."""
        schema = self.records.schema(job.version, job.module)
        record: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for m in job.mappings:
            raw = row[m.index] if m.index is not None and m.index < len(row) else ""
            if raw == "" and m.default_value is not None:
                raw = str(m.default_value)
            if raw == "":
                if not job.ignore_empty and m.api_name != "id":
                    empty_list = schema.fields[m.api_name].data_type == "multiselectpicklist"
                    record[m.api_name] = [] if empty_list else None  # as REST stores a cleared value
                continue
            if m.api_name == "id":
                record["id"] = raw.strip()
                continue
            spec = schema.fields[m.api_name]
            try:
                record[m.api_name] = self._cell_value(job, spec, m, raw)
            except ValueError:
                errors.append(("INVALID_DATA", m.api_name))
        return record, errors

    def _cell_value(self, job: BulkJob, spec: Any, m: Mapping, raw: str) -> Any:
        dt = spec.data_type
        if dt in LOOKUP_TYPES:
            return self._lookup(job, spec, m, raw.strip())
        if dt == "multiselectpicklist":
            return [v.strip() for v in raw.split(";") if v.strip()]
        if dt == "boolean":
            lowered = raw.strip().lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            return raw
        if dt == "date":
            parsed = datetime.strptime(raw.strip(), java_to_strptime(m.format or DEFAULT_DATE_FORMAT))
            return parsed.date().isoformat()
        if dt == "datetime":
            return self._datetime(job, m, raw.strip())
        return raw

    def _datetime(self, job: BulkJob, m: Mapping, raw: str) -> str:
        tz = self._tz(job.version)
        if m.format:
            parsed = datetime.strptime(raw, java_to_strptime(m.format))
        else:
            try:
                parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                parsed = datetime.strptime(raw, java_to_strptime(DEFAULT_DATETIME_FORMAT))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed.replace(microsecond=0).isoformat()

    def _lookup(self, job: BulkJob, spec: Any, m: Mapping, value: str) -> dict[str, Any]:
        if not m.find_by or m.find_by == "id":
            return {"id": value}
        if spec.lookup_module == "Users":
            users = self.state.catalog(job.version).users
            user = next((u for u in users if str(u.get("email", "")).lower() == value.lower()), None)
            if user is None:
                raise ValueError(value)
            return {"id": str(user["id"])}
        ids = self.records.find(job.version, spec.lookup_module, m.find_by, value)
        if not ids:
            raise ValueError(value)
        return {"id": ids[0]}

    def _errors_cell(self, job: BulkJob, errors: list[tuple[str, str]]) -> str:
        """`CODE-col,col:CODE-col` with the upload's column headers (download-result.html)."""
        headers = {m.api_name: job.upload.header[m.index] for m in job.mappings if m.index is not None}
        grouped: dict[str, list[str]] = {}
        for code, api_name in errors:
            column = headers.get(api_name, api_name)
            if column not in grouped.setdefault(code, []):
                grouped[code].append(column)
        return ":".join(f"{code}-{','.join(cols)}" for code, cols in grouped.items())

    def jobs_summary(self) -> list[dict[str, Any]]:
        """Every job of the org, oldest first: id, module, operation, status and counts (the inspector)."""
        summary = []
        for job in list(self._store()["jobs"].values()):
            with job.lock:
                summary.append(
                    {
                        "id": job.job_id,
                        "module": job.module,
                        "operation": job.operation,
                        "status": job.status,
                        "rows": len(job.upload.rows),
                        "added": job.added,
                        "updated": job.updated,
                        "skipped": job.skipped,
                    }
                )
        return summary

    # --- status and result -------------------------------------------------------------------------------
    def _job(self, job_id: str | None) -> BulkJob | None:
        job = self._store()["jobs"].get(str(job_id or ""))
        return job if isinstance(job, BulkJob) else None

    def _base_url(self, request: Request) -> str:
        return (self.state.url or request.host_url).rstrip("/")

    def job_status(self, request: Request, version: str, job_id: str | None) -> Response:
        """job-details.html shape; `result.download_url` only once COMPLETED."""
        job = self._job(job_id)
        if job is None:
            return request_error(
                404, "RESOURCE_NOT_FOUND", "the job id given seems to be invalid", {"id": job_id}
            )
        return json_response(self._details(job, self._base_url(request)))

    def _details(self, job: BulkJob, base_url: str) -> dict[str, Any]:
        with job.lock:
            status = job.status
            counts = {
                "added_count": job.added,
                "skipped_count": job.skipped,
                "updated_count": job.updated,
                "total_count": len(job.upload.rows),
            }
        body: dict[str, Any] = {
            "status": status,
            "character_encoding": job.character_encoding,
            "operation": job.operation,
            "ignore_empty": job.ignore_empty,
            "callback": job.callback,
            "id": job.job_id,
            "created_by": job.created_by,
            "created_time": job.created_time,
            "resource": [
                {
                    "status": status,
                    "type": "data",
                    "code": status,
                    "module": {"api_name": job.module, "id": job.module_id},
                    "find_by": job.find_by,
                    "field_mappings": [m.as_dict() for m in job.mappings],
                    "file": {"status": status, "name": job.upload.name, **counts},
                }
            ],
        }
        if status == "COMPLETED":
            body["result"] = {"download_url": f"{base_url}/crm/bulk/{job.version}/write/{job.job_id}/result"}
        return body

    def _notify(self, job: BulkJob) -> None:
        """create-job.html `callback`: Zoho POSTs the job details when the job completes or fails.
        The emulator only calls back to loopback addresses (it must never reach out of the machine)."""
        url = str((job.callback or {}).get("url") or "")
        host = (urlsplit(url).hostname or "").lower()
        if not url or not (host == "localhost" or host.startswith("127.") or host == "::1"):
            return
        with contextlib.suppress(requests.RequestException):
            requests.post(url, json=self._details(job, self.state.url.rstrip("/")), timeout=5)

    def download(self, request: Request, job_id: str | None) -> Response:
        """download-result.html: a zip with one CSV of key columns + STATUS, RECORD_ID, ERRORS."""
        job = self._job(job_id)
        if job is None:
            return request_error(
                404, "RESOURCE_NOT_FOUND", "the job id given seems to be invalid", {"id": job_id}
            )
        with job.lock:
            if job.status != "COMPLETED":
                return request_error(
                    404, "RESOURCE_NOT_FOUND", "the job has no result file", {"status": job.status}
                )
            results = list(job.results)
        keys = sorted((m for m in job.mappings if m.index is not None), key=lambda m: m.index or 0)
        indexes = [m.index for m in keys[:RESULT_KEY_COLUMNS] if m.index is not None]
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow([job.upload.header[i] for i in indexes] + ["STATUS", "RECORD_ID", "ERRORS"])
        for row, (status, rid, errors) in zip(job.upload.rows, results, strict=False):
            writer.writerow([row[i] if i < len(row) else "" for i in indexes] + [status, rid, errors])
        stem = job.upload.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{job.module}-{stem}.csv", text.getvalue())
        return Response(
            buffer.getvalue(),
            status=200,
            mimetype="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{job.job_id}.zip"'},
        )


def _flatten(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, api_name) pairs of one RecordService error (nested for MULTIPLE_OR_MULTI_ERRORS)."""
    details = answer.get("details") or {}
    nested = details.get("errors") if isinstance(details, dict) else None
    if isinstance(nested, list) and nested:
        pairs: list[tuple[str, str]] = []
        for item in nested:
            if isinstance(item, dict):
                pairs.extend(_flatten(item))
        return pairs
    api_name = details.get("api_name") if isinstance(details, dict) else None
    return [(str(answer.get("code") or "CANNOT_PROCESS"), str(api_name or "record"))]


__all__ = ["BulkService", "java_to_strptime"]
