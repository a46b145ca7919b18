"""Pure: where a replay of one topic stops on each partition, and how far it still has to go.

A partition ends at the high watermark of the first fetch answered for it once the replay began,
not at ListOffsets(latest): Tansu answers that with the last batch's base offset + 1, short of the
end whenever that batch holds several records. A fetch's high watermark is the true end.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field


@dataclass
class Ends:
    partitions: frozenset[int]
    # The end of each partition whose first fetch has been answered.
    targets: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, partitions: Collection[int]) -> Ends:
        return cls(frozenset(partitions))

    def observe(self, partition: int, highwater: int | None) -> bool:
        """Take a fetch's high watermark; the first one fixes the partition's end (records produced
        later are the next replay's). True when it did."""
        if highwater is None or partition not in self.partitions or partition in self.targets:
            return False
        self.targets[partition] = highwater
        return True

    def reached(self, positions: Mapping[int, int]) -> bool:
        """Every partition's end is known and read up to."""
        return all(p in self.targets and positions.get(p, 0) >= self.targets[p] for p in self.partitions)

    def unknown(self) -> frozenset[int]:
        """Partitions no fetch has answered for yet."""
        return self.partitions - self.targets.keys()

    def remaining(self, positions: Mapping[int, int]) -> int:
        """Records still to read on the partitions whose end is known."""
        return sum(max(end - positions.get(p, 0), 0) for p, end in self.targets.items())


def missing_records(
    start: Mapping[int, int], first_offsets: Mapping[int, int], positions: Mapping[int, int]
) -> dict[int, int]:
    """Records a replay asked for but the topic no longer holds, per partition (only those with any).

    A partition's log starts later than the replay asked when retention has deleted its oldest
    records: the first record read (or, when none was, where the position ended up) is past the
    start. Meaningless for a compacted topic, whose gaps are compaction's.
    """
    missing = {}
    for partition, position in positions.items():
        gap = first_offsets.get(partition, position) - start.get(partition, 0)
        if gap > 0:
            missing[partition] = gap
    return missing
