"""The merge of a batch's versions of one key (load/keys.py), on its own and with the STATE frontier: a
merged record is done only when the record that replaced it is, and a rejected winner hands its key to
the previous version."""

from __future__ import annotations

import threading
from typing import Any

from target_zoho_crm.load.keys import has_key_value, lowest_index, merge_versions, next_versions
from target_zoho_crm.load.ordering import StateKeeper
from target_zoho_crm.model import PreparedRecord

WAIT = 30.0  # generous: other suites run on the same two cores


def _rec(index: int, key: str | None) -> PreparedRecord:
    return PreparedRecord(index=index, source={}, payload={"Email": key}, key=key)


def test_the_last_version_wins_and_remembers_the_earlier_ones() -> None:
    batch = [_rec(1, "K@x"), _rec(2, None), _rec(3, "k@X "), _rec(4, "L"), _rec(5, "K@x"), _rec(6, None)]
    kept, earlier = merge_versions(batch)

    assert [r.index for r in kept] == [2, 4, 5, 6]
    assert {winner: [r.index for r in older] for winner, older in earlier.items()} == {5: [1, 3]}
    assert lowest_index(kept[2:3], {5: earlier[5]}) == 1  # the chunk carrying K stands for seq 1 too
    assert lowest_index(kept[:2], {}) == 2


def test_a_batch_without_repeated_keys_is_kept_as_it_is() -> None:
    batch = [_rec(1, "a"), _rec(2, None), _rec(3, "b")]
    kept, earlier = merge_versions(batch)
    assert kept is batch and earlier == {}


def test_a_rejected_winner_falls_back_to_the_previous_version_then_the_one_before() -> None:
    _, earlier = merge_versions([_rec(1, "K"), _rec(2, "K"), _rec(3, "K"), _rec(4, "L"), _rec(5, "L")])

    retry, superseded = next_versions([3, 5], landed={5}, earlier=earlier)
    assert [r.index for r in retry] == [2] and superseded == 1  # L v1 superseded by L v2, which landed
    retry, superseded = next_versions([2], landed=set(), earlier=earlier)
    assert [r.index for r in retry] == [1] and superseded == 0
    retry, superseded = next_versions([1], landed={1}, earlier=earlier)
    assert retry == [] and superseded == 0 and earlier == {}


def test_a_state_between_two_versions_waits_for_the_chunk_carrying_the_later_one() -> None:
    """K v1 (seq 1), STATE, K v2 (seq 2): the chunk writes only v2, but the STATE after v1 must wait
    until that chunk is done."""
    echoed: list[dict[str, Any]] = []
    keeper = StateKeeper(echoed.append)
    lane = keeper.lane("leads")
    first = keeper.next_seq()
    lane.buffer_min_seq = first
    keeper.on_state({"after": "v1"})
    second = keeper.next_seq()
    kept, earlier = merge_versions([_rec(first, "K"), _rec(second, "K")])
    started = threading.Event()

    def work(progress: Any) -> None:
        progress.start([lowest_index(kept, earlier)])
        started.set()

    progress = lane.submit(first, work)
    lane.buffer_min_seq = None
    assert started.wait(WAIT)
    keeper.try_emit()
    assert echoed == [], "the STATE passed K v1 while the write carrying K v2 was still out"

    progress.chunk_done(0)
    progress.finish()
    keeper.join_all()
    assert echoed == [{"after": "v1"}]
    keeper.shutdown()


def test_values_that_match_nothing_are_no_key() -> None:
    nothing: tuple[Any, ...] = ("", "   ", None, [], {}, ["a"])
    assert not any(has_key_value(v) for v in nothing)
    assert all(has_key_value(v) for v in ("a", " a ", 0, 5))
