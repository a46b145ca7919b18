"""Unit tests for where a replay stops: each partition at the high watermark of the first fetch
answered for it (never ListOffsets, which Tansu answers short of multi-record batches)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wellpulse.reporting.rebuild.ends import Ends, missing_records


def test_nothing_is_read_to_its_end_before_every_partition_has_been_answered() -> None:
    ends = Ends.of([0, 1, 2])
    assert not ends.reached({0: 0, 1: 0, 2: 0})
    assert ends.observe(0, 13)
    assert ends.observe(1, 0)  # an empty partition ends where it starts
    assert ends.unknown() == {2}
    assert not ends.reached({0: 13, 1: 0, 2: 0}), "partition 2 may hold records no fetch has shown yet"
    assert ends.observe(2, 4)
    assert ends.remaining({0: 10, 1: 0, 2: 0}) == 3 + 4
    assert not ends.reached({0: 10, 1: 0, 2: 4})
    assert ends.reached({0: 13, 1: 0, 2: 4})


def test_the_first_high_watermark_fixes_the_end_and_later_ones_are_the_next_replays() -> None:
    ends = Ends.of([0])
    assert not ends.observe(0, None), "no fetch answered yet"
    assert ends.observe(0, 10)
    assert not ends.observe(0, 25), "records produced since are for the next replay"
    assert ends.targets == {0: 10}
    assert ends.reached({0: 12}), "a fetch may hand over more than the end: read past it"


def test_a_partition_not_being_replayed_is_ignored() -> None:
    ends = Ends.of([0])
    assert not ends.observe(7, 100)
    assert ends.targets == {}


def test_a_topic_without_partitions_is_read_at_once() -> None:
    assert Ends.of([]).reached({})


@given(
    st.dictionaries(
        st.integers(0, 11),
        st.tuples(st.lists(st.one_of(st.none(), st.integers(0, 10_000)), max_size=5), st.integers(0, 10_000)),
        max_size=12,
    )
)
def test_reached_exactly_when_every_partition_is_read_up_to_its_first_high_watermark(
    fetches: dict[int, tuple[list[int | None], int]],
) -> None:
    ends = Ends.of(fetches)
    for partition, (highwaters, _) in fetches.items():
        for highwater in highwaters:
            ends.observe(partition, highwater)
    positions = {partition: position for partition, (_, position) in fetches.items()}
    first = {p: next((h for h in hws if h is not None), None) for p, (hws, _) in fetches.items()}
    expected = all(end is not None and positions[p] >= end for p, end in first.items())
    assert ends.reached(positions) is expected
    assert ends.unknown() == {p for p, end in first.items() if end is None}
    assert ends.remaining(positions) == sum(max(end - positions[p], 0) for p, end in first.items() if end is not None)


def test_records_retention_deleted_are_counted_per_partition() -> None:
    # Partition 0 was read from its start; partition 1's log now starts at 40; partition 2 lost
    # everything it had (no record read, the position reset to its end); partition 3 is empty.
    missing = missing_records(
        start={0: 0, 1: 0, 2: 0, 3: 0}, first_offsets={0: 0, 1: 40}, positions={0: 90, 1: 75, 2: 12, 3: 0}
    )
    assert missing == {1: 40, 2: 12}


def test_a_replay_from_where_the_last_one_ended_misses_nothing_when_it_goes_on_from_there() -> None:
    assert missing_records(start={0: 90}, first_offsets={0: 90}, positions={0: 95}) == {}
    assert missing_records(start={0: 90}, first_offsets={}, positions={0: 90}) == {}
