"""How the Bulk Write poller reads a job's status (zoho/bulk.py `job_phase`): Zoho's job-details page
documents ADDED → `IN PROGRESS` (with a space) → COMPLETED or FAILED
(https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/job-details.html); older pages spell the
middle one INPROGRESS. Anything else is unknown: logged, and polled on (a job that may be running must
never be run twice)."""

from __future__ import annotations

import pytest

from target_zoho_crm.zoho.bulk import job_phase


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "completed", " FAILED "])
def test_finished_jobs(status: str) -> None:
    assert job_phase(status) == "done"


@pytest.mark.parametrize("status", ["ADDED", "IN PROGRESS", "INPROGRESS", "in progress", "QUEUED"])
def test_jobs_zoho_documents_as_running(status: str) -> None:
    assert job_phase(status) == "running"


@pytest.mark.parametrize("status", ["", "PAUSED", "SKIPPED", "IN-PROGRESS?"])
def test_other_statuses_are_unknown(status: str) -> None:
    assert job_phase(status) == "unknown"
