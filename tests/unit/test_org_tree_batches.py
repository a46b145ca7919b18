"""Unit tests for reading a batch of ``org.units``: each unit's latest state in record order, a
tombstone marking the unit removed while keeping where it sat in the tree (a replay meets a unit's
creation and its tombstone in one batch; a live consumer may have met them in two)."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from wellpulse.common.events import Envelope, OrgUnit, encode
from wellpulse.common.kafka import decode_each
from wellpulse.common.orgtree import UnitState, latest_units


def unit(unit_id: str, parent: str | None = "dir") -> OrgUnit:
    return OrgUnit(unit_id=unit_id, parent_id=parent, name=unit_id.title(), headcount=8)


def batch(*records: OrgUnit | str) -> list[Any]:
    """Records in order: a unit's state, or a tombstone for the unit id given as a string."""
    return [
        SimpleNamespace(
            topic="org.units",
            partition=0,
            offset=offset,
            key=(r if isinstance(r, str) else r.unit_id).encode(),
            value=None if isinstance(r, str) else encode(Envelope.wrap(r, source="/tests", subject=r.unit_id)),
            headers=[],
        )
        for offset, r in enumerate(records)
    ]


async def decoder(records: Sequence[Any], payload: Any) -> list[Any]:
    good, _ = decode_each(records, payload)
    return good


async def test_a_unit_created_and_removed_in_one_batch_is_removed_where_it_sat() -> None:
    latest = await latest_units(batch(unit("t4", "d2"), "t4"), decoder)
    assert latest == {"t4": UnitState(unit("t4", "d2"), removed=True)}


async def test_a_unit_removed_and_created_again_in_one_batch_is_live() -> None:
    latest = await latest_units(batch(unit("t1"), "t1", unit("t1", "d2")), decoder)
    assert latest == {"t1": UnitState(unit("t1", "d2"), removed=False)}


async def test_a_tombstone_alone_only_marks_the_unit_removed() -> None:
    assert await latest_units(batch("t9"), decoder) == {"t9": UnitState(None, removed=True)}


async def test_the_last_state_of_each_unit_wins_and_undecodable_records_are_the_decoders() -> None:
    records = batch(unit("t1"), unit("t2"), unit("t1", "d2"))
    records[1].value = b"{not json"
    latest = await latest_units(records, decoder)
    assert latest == {"t1": UnitState(unit("t1", "d2"), removed=False)}
