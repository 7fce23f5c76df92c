"""The STATE frontier and the lanes' ordering, on their own (no Zoho, no sink): StateKeeper, Lane,
BatchProgress. A STATE is echoed only once every record received before it is handled; a failed batch
holds it back for good; a lane bounds the batches it keeps unfinished."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

import pytest

from target_zoho_crm.load.ordering import BatchProgress, StateKeeper

WAIT = 30.0  # generous: other suites run on the same two cores


class Echo:
    """What the keeper echoed, and what was synced just before each echo."""

    def __init__(self) -> None:
        self.states: list[dict[str, Any]] = []
        self.synced_before: list[int] = []
        self.syncs = 0
        self.emitted = threading.Event()

    def emit(self, state: dict[str, Any]) -> None:
        self.synced_before.append(self.syncs)
        self.states.append(state)
        self.emitted.set()

    def sync(self) -> None:
        self.syncs += 1


def _keeper() -> tuple[StateKeeper, Echo]:
    echo = Echo()
    return StateKeeper(echo.emit, before_emit=echo.sync), echo


def _receive(keeper: StateKeeper, lane_name: str, n: int) -> list[int]:
    """n records arrive on a lane's buffer; returns their sequence numbers."""
    seqs = [keeper.next_seq() for _ in range(n)]
    lane = keeper.lane(lane_name)
    if lane.buffer_min_seq is None:
        lane.buffer_min_seq = seqs[0]
    return seqs


def _hand_over(
    keeper: StateKeeper, lane_name: str, first_seq: int, chunks: list[int]
) -> tuple[BatchProgress, threading.Event]:
    """Flush a lane's buffer into one batch whose chunks start at `chunks` (sequence numbers); the batch
    runs on the lane until the returned event is set, then finishes."""
    release = threading.Event()
    started = threading.Event()

    def work(progress: BatchProgress) -> None:
        progress.start(chunks)
        started.set()
        release.wait(WAIT)

    lane = keeper.lane(lane_name)
    progress = lane.submit(first_seq, work)
    lane.buffer_min_seq = None
    assert started.wait(WAIT)
    return progress, release


def test_a_state_waits_for_the_records_before_it_and_is_echoed_once_they_are_handled() -> None:
    keeper, echo = _keeper()
    keeper.on_state({"bookmark": 0})  # nothing before it: echoed at once
    assert echo.states == [{"bookmark": 0}]
    seqs = _receive(keeper, "leads", 3)
    keeper.on_state({"bookmark": 3})
    assert echo.states == [{"bookmark": 0}] and keeper.has_pending  # records still buffered
    progress, release = _hand_over(keeper, "leads", seqs[0], [seqs[0]])
    keeper.try_emit()
    assert echo.states == [{"bookmark": 0}]  # in a batch that has not finished
    progress.chunk_done(0)
    assert echo.states == [{"bookmark": 0}, {"bookmark": 3}]
    assert echo.synced_before == [1, 2]  # the rejects file is synced before every echo
    release.set()
    progress.finish()
    keeper.join_all()
    assert not keeper.has_pending and keeper.emitted == 2


def test_state_advances_chunk_by_chunk_and_never_past_the_oldest_unfinished_chunk() -> None:
    keeper, echo = _keeper()
    first_half = _receive(keeper, "leads", 2)
    keeper.on_state({"after": 2})
    second_half = _receive(keeper, "leads", 2)
    keeper.on_state({"after": 4})
    progress, release = _hand_over(keeper, "leads", first_half[0], [first_half[0], second_half[0]])
    progress.chunk_done(1)  # the later chunk finishes first
    assert echo.states == []  # the first chunk still holds the frontier at its first record
    assert keeper.frontier() == first_half[0]
    progress.chunk_done(0)
    assert echo.states == [{"after": 4}]
    release.set()
    progress.finish()
    keeper.join_all()


def test_a_finished_chunk_releases_the_state_before_the_rest_of_its_batch() -> None:
    keeper, echo = _keeper()
    first_half = _receive(keeper, "leads", 2)
    keeper.on_state({"after": 2})
    second_half = _receive(keeper, "leads", 2)
    keeper.on_state({"after": 4})
    progress, release = _hand_over(keeper, "leads", first_half[0], [first_half[0], second_half[0]])
    progress.chunk_done(0)
    assert echo.states == [{"after": 2}]  # not the later STATE: the second chunk is unfinished
    assert keeper.frontier() == second_half[0]
    progress.chunk_done(1)
    assert echo.states == [{"after": 2}, {"after": 4}]
    release.set()
    progress.finish()
    keeper.join_all()


def test_the_frontier_is_the_oldest_record_over_every_lane() -> None:
    keeper, echo = _keeper()
    leads = _receive(keeper, "leads", 2)
    keeper.on_state({"s": 1})
    contacts = _receive(keeper, "contacts", 2)
    keeper.on_state({"s": 2})
    assert keeper.frontier() == leads[0]
    lead_batch, lead_release = _hand_over(keeper, "leads", leads[0], [leads[0]])
    contact_batch, contact_release = _hand_over(keeper, "contacts", contacts[0], [contacts[0]])
    contact_batch.chunk_done(0)
    assert echo.states == []  # contacts are done, but leads (older) are not
    lead_batch.chunk_done(0)
    assert echo.states == [{"s": 2}]  # both positions passed at once: only the newer STATE is echoed
    for release, batch in ((lead_release, lead_batch), (contact_release, contact_batch)):
        release.set()
        batch.finish()
    keeper.join_all()


def test_a_state_replaced_at_the_same_position_is_echoed_once_with_the_newer_value() -> None:
    keeper, echo = _keeper()
    seqs = _receive(keeper, "leads", 1)
    keeper.on_state({"v": 1})
    keeper.on_state({"v": 2})  # no record in between: the same position
    progress, release = _hand_over(keeper, "leads", seqs[0], [seqs[0]])
    progress.chunk_done(0)
    assert echo.states == [{"v": 2}]
    keeper.on_state({"v": 2})  # the same STATE again, at a later position: not echoed twice
    keeper.try_emit()
    assert echo.states == [{"v": 2}]
    release.set()
    progress.finish()
    keeper.join_all()


def test_a_failed_batch_holds_state_back_for_good_and_stops_the_run() -> None:
    keeper, echo = _keeper()
    first = _receive(keeper, "leads", 2)
    keeper.on_state({"s": "after failed"})
    failed, failed_release = _hand_over(keeper, "leads", first[0], [first[0]])
    failed_release.set()  # the lane task returns; its batch is still unfinished (a job still running)
    second = _receive(keeper, "leads", 2)
    keeper.on_state({"s": "after good"})
    good, good_release = _hand_over(keeper, "leads", second[0], [second[0]])
    error = RuntimeError("Zoho refused the batch")
    failed.finish(error)
    good.chunk_done(0)
    good_release.set()
    good.finish()
    assert keeper.failure is error
    with pytest.raises(RuntimeError, match="refused"):
        keeper.raise_if_failed()
    with pytest.raises(RuntimeError, match="refused"):
        keeper.join_all()
    keeper.try_emit()
    assert echo.states == []  # neither STATE: the failed batch's records are in neither place
    assert keeper.lane("leads").oldest_unfinished() == first[0]  # held at the failed batch's first record


def test_a_lane_task_that_raises_fails_its_batch() -> None:
    keeper, echo = _keeper()
    seqs = _receive(keeper, "leads", 1)
    keeper.on_state({"s": 1})

    def boom(progress: BatchProgress) -> None:
        raise ValueError("conversion crashed")

    lane = keeper.lane("leads")
    progress = lane.submit(seqs[0], boom)
    lane.buffer_min_seq = None
    with pytest.raises(ValueError, match="conversion crashed"):
        progress.done.result(WAIT)
    with pytest.raises(ValueError):
        keeper.join_all()
    assert echo.states == []
    keeper.shutdown()


def test_a_batch_completes_only_when_every_future_it_waits_on_has() -> None:
    keeper, _ = _keeper()
    progress = BatchProgress(keeper)
    parts: list[Future[None]] = [Future(), Future()]
    progress.finish_when(parts)
    parts[0].set_result(None)
    assert not progress.done.done()
    parts[1].set_result(None)
    assert progress.done.result(WAIT) is None
    failing = BatchProgress(keeper)
    more: list[Future[None]] = [Future(), Future()]
    failing.finish_when(more)
    more[1].set_exception(KeyError("lost"))  # the first failure decides, before the others finish
    assert isinstance(failing.done.exception(WAIT), KeyError)
    more[0].set_result(None)
    empty = BatchProgress(keeper)
    empty.finish_when([])
    assert empty.done.result(WAIT) is None


def test_back_pressure_a_lane_blocks_the_reader_while_too_many_batches_are_unfinished() -> None:
    keeper, _ = _keeper()
    lane = keeper.lane("leads")
    lane.max_queued = 1
    seqs = _receive(keeper, "leads", 2)
    first, release_first = _hand_over(keeper, "leads", seqs[0], [seqs[0]])
    submitted = threading.Event()
    second_runs = threading.Event()

    def second_batch() -> None:
        def work(progress: BatchProgress) -> None:
            second_runs.set()
            progress.finish()

        lane.submit(seqs[1], work)
        submitted.set()

    reader = threading.Thread(target=second_batch, daemon=True)
    reader.start()
    assert not submitted.wait(0.3)  # blocked: the first batch is still unfinished
    first.chunk_done(0)
    release_first.set()
    first.finish()
    assert submitted.wait(WAIT) and second_runs.wait(WAIT)
    reader.join(WAIT)
    keeper.join_all()
    keeper.shutdown()


def test_back_pressure_surfaces_a_failure_instead_of_waiting_on() -> None:
    keeper, _ = _keeper()
    lane = keeper.lane("leads")
    lane.max_queued = 1
    seqs = _receive(keeper, "leads", 2)
    first, release_first = _hand_over(keeper, "leads", seqs[0], [seqs[0]])
    outcome: list[BaseException] = []

    def second_batch() -> None:
        try:
            lane.submit(seqs[1], lambda progress: progress.finish())
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=second_batch, daemon=True)
    reader.start()
    first.finish(ConnectionError("Zoho unreachable"))
    release_first.set()
    reader.join(WAIT)
    assert not reader.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionError)
    keeper.shutdown()


def test_a_batch_failing_while_a_state_is_being_written_still_fails_the_end_of_input_wait() -> None:
    """The records-lost race, made deterministic: a batch fails while another thread is writing a STATE
    (the rejects fsync before an echo holds the keeper's lock: a slow disk). The end of input
    (`join_all`) wakes as soon as the batch resolves; it must raise then, not only once the batch's
    done-callbacks have had their turn (they queue behind the STATE write). It used to return quietly:
    the target exited 0 with the failed batch's records in neither Zoho nor the rejects file."""
    writing = threading.Event()
    disk_free = threading.Event()
    echo = Echo()

    def slow_sync() -> None:
        writing.set()
        disk_free.wait(WAIT)

    keeper = StateKeeper(echo.emit, before_emit=slow_sync)
    error = RuntimeError("Zoho refused the batch")
    failing = threading.Event()
    writer = threading.Thread(target=keeper.on_state, args=({"s": 0},))  # nothing before it: it may go
    writer.start()
    assert writing.wait(WAIT)  # the STATE's fsync is under way, holding the keeper
    seqs = _receive(keeper, "leads", 1)

    def fails(progress: BatchProgress) -> None:
        failing.wait(WAIT)
        raise error

    lane = keeper.lane("leads")
    progress = lane.submit(seqs[0], fails)
    lane.buffer_min_seq = None

    failing.set()
    assert progress.done.exception(WAIT) is error
    outcome: list[BaseException | None] = []

    def end_of_input() -> None:
        try:
            keeper.join_all()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    ender = threading.Thread(target=end_of_input)
    ender.start()
    ender.join(2.0)  # the fixed keeper answers at once; the old one waited for the disk, then passed
    disk_free.set()
    ender.join(WAIT)
    writer.join(WAIT)
    assert outcome == [error]
    assert keeper.failure is error
    keeper.shutdown()


def test_a_parked_record_holds_the_state_until_its_retry_has_started() -> None:
    """Parents first: a record waiting for its parent is in neither Zoho nor the rejects file, so the
    frontier stays at it while it is parked and while it is taken into a retry, and moves once released."""
    keeper, echo = _keeper()
    lane = keeper.lane("contacts")
    seqs = [keeper.next_seq() for _ in range(3)]
    owner = object()
    lane.park(seqs[1], owner, "waiting")
    keeper.on_state({"after": 3})
    assert keeper.frontier() == seqs[1] and echo.states == []
    assert lane.parked_owners() == [owner] and lane.parked_min(owner) == seqs[1]
    assert lane.take_parked(owner) == ["waiting"]
    assert lane.parked == 0 and keeper.frontier() == seqs[1]  # retrying: still held
    lane.release_retrying([seqs[1]])
    keeper.try_emit()
    assert echo.states == [{"after": 3}]
