"""The concurrency gate: at most Zoho's concurrency limit of calls in flight, first come first served."""

from __future__ import annotations

import threading
from collections import deque


class FairGate:
    """A first-come, first-served semaphore: the calls allowed in flight at once (Zoho's concurrency).

    `threading.Semaphore` lets a thread that has just released a slot take it straight back, so a
    call queued behind the gate can wait for many turns — measured here: two chunks of a batch waited
    ~0.7 s at a 200 ms latency while later chunks went first, holding their batch (and STATE) back and
    leaving Zoho's slots idle. This gate hands a freed slot to the oldest waiter instead.
    """

    def __init__(self, slots: int) -> None:
        self._lock = threading.Lock()
        self._free = slots
        self._waiters: deque[threading.Event] = deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()  # the slot is handed over by __exit__: no re-check, no barging

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._free += 1
