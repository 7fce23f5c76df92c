"""Ordering and STATE safety for writes that run while stdin keeps flowing.

singer-sdk drains sinks synchronously and echoes STATE only at its five-minute or end-of-input drains.
Here each stream's batches run in the background on a *lane* (one writer thread per stream, so a stream's
batches reach Zoho in input order and a newer value is never overwritten by an older one), and the
`StateKeeper` echoes a STATE as soon as every record received before it has been handled — written to
Zoho or written (and fsynced) to the rejects file — and never earlier.

Every record gets a sequence number when it arrives. A lane knows the smallest sequence number it still
holds (buffered in its sink, or in a batch not yet finished); the smallest over all lanes is the
*frontier*: every record below it is done, so every STATE that arrived before the frontier may be echoed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

LOGGER = logging.getLogger("target_zoho_crm.pipeline")


class BatchProgress:
    """A batch's unfinished chunks (so STATE can advance chunk by chunk) and its completion.

    `done` resolves once every record of the batch is in Zoho or in the rejects file — possibly long
    after the lane task that started the batch returned (REST chunks and Bulk jobs keep running while
    the lane prepares the next batch). It fails if any part of the batch failed.
    """

    def __init__(self, keeper: StateKeeper) -> None:
        self._keeper = keeper
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self.started = False
        self.done: Future[None] = Future()

    def start(self, chunk_min_seqs: list[int]) -> None:
        with self._lock:
            self._pending = dict(enumerate(chunk_min_seqs))
            self.started = True

    def chunk_done(self, chunk: int) -> None:
        with self._lock:
            self._pending.pop(chunk, None)
        self._keeper.try_emit()

    def oldest(self) -> int | None:
        """Smallest sequence number of an unfinished chunk; None when every chunk has finished."""
        with self._lock:
            return min(self._pending.values()) if self._pending else None

    def finish(self, error: BaseException | None = None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            # Recorded before the future resolves: a waiter woken by it (join_all at the end of input)
            # must see the failure. A done-callback runs only after the waiters are woken, so a main
            # thread that checked `failure` from there could end the run with exit 0 while the batch's
            # records were never written (seen under load: 700 of 1,000 records accounted nowhere).
            self._keeper.fail(error)
            self.done.set_exception(error)

    def finish_when(self, futures: list[Future[Any]]) -> None:
        """Resolve `done` when all `futures` have (with the first failure, if any)."""
        if not futures:
            self.finish()
            return
        remaining = [len(futures)]
        lock = threading.Lock()

        def one_done(future: Future[Any]) -> None:
            error = future.exception()
            if error is not None:
                self.finish(error)
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                self.finish()

        for future in futures:
            future.add_done_callback(one_done)


class Lane:
    """One stream's ordered background writer plus the bookkeeping the StateKeeper reads."""

    def __init__(self, name: str, keeper: StateKeeper, *, max_queued: int = 3) -> None:
        self.name = name
        self.keeper = keeper
        self.max_queued = max_queued
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lane-{name[:20]}")
        self._lock = threading.Lock()
        self._in_flight: deque[tuple[int, BatchProgress]] = deque()
        self.buffer_min_seq: int | None = None  # oldest record still buffered in the sink (main thread)
        self.last: Future[None] | None = None  # completion of the latest batch (parents-first waits)
        # Used by the lane thread only, and kept here rather than on a sink so that they survive the new
        # sink a SCHEMA change brings: the previous batch's completion and API, and the REST key fence
        # (key → the latest chunk carrying it).
        self.previous: Future[None] | None = None
        self.previous_api = "rest"
        self.fence: dict[str, Future[Any]] = {}
        # Parents first: records whose lookup matched nothing yet, waiting for a retry (seq → (owner,
        # record)), and those taken into a retry batch that has not started its chunks yet. Both hold
        # the frontier: STATE must not pass a record that is in neither Zoho nor the rejects file.
        self._parked: dict[int, tuple[Any, Any]] = {}
        self._retrying: set[int] = set()

    # -- parked records (parents first) -------------------------------------------------------------------
    def park(self, seq: int, owner: Any, record: Any) -> None:
        with self._lock:
            self._parked[seq] = (owner, record)

    def take_parked(self, owner: Any) -> list[Any]:
        """The records `owner` parked, moved to "retrying" (still holding the frontier) until
        `release_retrying` once the retry batch has started."""
        with self._lock:
            seqs = sorted(s for s, (o, _) in self._parked.items() if o is owner)
            taken = [self._parked.pop(s)[1] for s in seqs]
            self._retrying.update(seqs)
        return taken

    def release_retrying(self, seqs: list[int]) -> None:
        with self._lock:
            self._retrying.difference_update(seqs)

    def parked_min(self, owner: Any) -> int | None:
        with self._lock:
            return min((s for s, (o, _) in self._parked.items() if o is owner), default=None)

    def parked_owners(self) -> list[Any]:
        with self._lock:
            return list(dict.fromkeys(o for o, _ in self._parked.values()))

    @property
    def parked(self) -> int:
        with self._lock:
            return len(self._parked)

    def submit(self, min_seq: int, fn: Callable[[BatchProgress], Any]) -> BatchProgress:
        """Queue a batch behind the stream's earlier ones; blocks while too many are unfinished (memory
        bound). `fn(progress)` runs on the lane and must see to it that `progress.finish()` is called."""
        self.wait_below(self.max_queued)
        progress = BatchProgress(self.keeper)

        def run() -> None:
            try:
                fn(progress)
            except BaseException as exc:
                progress.finish(exc)
                raise

        with self._lock:
            self._in_flight.append((min_seq, progress))
            self.last = progress.done
        progress.done.add_done_callback(self.keeper.on_batch_done)
        self._executor.submit(run)
        return progress

    def wait_below(self, limit: int) -> None:
        while True:
            with self._lock:
                pending = [p.done for _, p in self._in_flight if not p.done.done()]
            if len(pending) < max(limit, 1):
                return
            pending[0].exception()  # wait for the oldest without raising here
            self.keeper.raise_if_failed()

    def oldest_unfinished(self) -> int | None:
        """Smallest sequence number this stream still holds (buffered, or in an unfinished batch)."""
        oldest: int | None = None
        with self._lock:
            while self._in_flight and _finished(self._in_flight[0][1]):
                self._in_flight.popleft()
            # Every unfinished batch counts, not only the first: a batch may carry records older than
            # the batches queued before it (parked records retried, parents first).
            held = [*self._parked, *self._retrying]
            for min_seq, progress in self._in_flight:
                if progress.done.done():
                    if progress.done.exception() is not None:
                        held.append(min_seq)  # a failed batch holds STATE back for good
                    continue
                if not progress.started:
                    held.append(min_seq)
                    continue
                chunk_oldest = progress.oldest()
                if chunk_oldest is not None:
                    held.append(chunk_oldest)
            if held:
                oldest = min(held)
        buffered = self.buffer_min_seq
        if oldest is None:
            return buffered
        return oldest if buffered is None else min(oldest, buffered)

    def join(self) -> BaseException | None:
        """Wait for every batch of the lane; the first failure, if any (also recorded on the keeper)."""
        with self._lock:
            batches = [p.done for _, p in self._in_flight]
        first: BaseException | None = None
        for done in batches:
            error = done.exception()
            first = first or error
        return first

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


def _finished(progress: BatchProgress) -> bool:
    return progress.done.done() and progress.done.exception() is None


class StateKeeper:
    """Holds the tap's STATE messages until the records before them are safely handled, then echoes them."""

    def __init__(
        self,
        emit: Callable[[dict[str, Any]], None],
        *,
        before_emit: Callable[[], None] = lambda: None,
    ) -> None:
        self._emit = emit
        self._before_emit = before_emit
        self._lock = threading.RLock()
        self._pending: deque[tuple[int, dict[str, Any]]] = deque()
        self._last_emitted: dict[str, Any] | None = None
        self.lanes: dict[str, Lane] = {}
        self.seq = 0  # number of records received so far (main thread only)
        self.failure: BaseException | None = None
        # Not the emit lock: a failure must be recordable while a STATE is being written (fsync).
        self._failure_lock = threading.Lock()
        self.emitted = 0
        self.last_emit_at = time.monotonic()

    # -- main thread -----------------------------------------------------------------------------------
    def lane(self, name: str) -> Lane:
        lane = self.lanes.get(name)
        if lane is None:
            lane = self.lanes[name] = Lane(name, self)
        return lane

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def on_state(self, state: dict[str, Any]) -> None:
        with self._lock:
            if self._pending and self._pending[-1][0] == self.seq:
                self._pending[-1] = (self.seq, state)  # newer STATE for the same position replaces it
            else:
                self._pending.append((self.seq, state))
        self.try_emit()

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def raise_if_failed(self) -> None:
        if self.failure is not None:
            raise self.failure

    def fail(self, error: BaseException) -> None:
        """Record the run's first failure: no STATE is echoed from now on, and the run stops."""
        with self._failure_lock:
            if self.failure is None:
                self.failure = error

    def join_all(self) -> None:
        """Wait for every lane's batches; raise the first failure. Each batch's own outcome is read
        here, so a failure cannot slip through between a batch resolving and its callbacks running."""
        for lane in list(self.lanes.values()):
            error = lane.join()
            if error is not None:
                self.fail(error)
        self.raise_if_failed()
        self.try_emit()

    def shutdown(self) -> None:
        for lane in list(self.lanes.values()):
            lane.shutdown()

    # -- any thread --------------------------------------------------------------------------------------
    def on_batch_done(self, future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None:
            self.fail(exc)
            return
        self.try_emit()

    def frontier(self) -> int:
        """Every record with a sequence number below this one is in Zoho or in the rejects file."""
        oldest = [s for lane in list(self.lanes.values()) if (s := lane.oldest_unfinished()) is not None]
        return min(oldest) if oldest else self.seq + 1

    def try_emit(self) -> None:
        with self._lock:
            if self.failure is not None or not self._pending:
                return
            frontier = self.frontier()
            ready: dict[str, Any] | None = None
            while self._pending and self._pending[0][0] < frontier:
                ready = self._pending.popleft()[1]
            if ready is None or ready == self._last_emitted:
                return
            self._before_emit()
            self._emit(ready)
            self._last_emitted = ready
            self.emitted += 1
            self.last_emit_at = time.monotonic()
