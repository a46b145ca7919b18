"""Disclosure control: which figures may be shown without revealing anything about fewer than k
people. One pure module for every figure the product shows: trends, heatmaps, exports, alerts.

The unit of protection is one week's cell of one measure for one unit's subtree, counted in
people: responses are anonymous, so a window of several weeks cannot count distinct people, and
the only safe lower bound is one week's contributors. A cell is shown when

1. at least ``k`` people contributed to it, and
2. for every shown unit, the part of it that its shown units below do not cover (its own direct
   members plus hidden descendants) is either empty or at least ``k`` people. Otherwise a parent
   minus its visible children would give the remainder away, so the smallest of those children is
   hidden too (complementary suppression), and so on until it holds.

With the tree's figures cut into such "remainders", any sum or difference of shown figures is a
union of remainders, each empty or of at least ``k`` people: parent − children, sibling against
sibling, or alert against trend, nothing smaller than ``k`` can be recovered. A figure that spans
several weeks (an alert's window, a multi-week export) may be shown only where every week that
contributes to it is shown: window − window then only ever subtracts shown weeks.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar


class CountUnknown(LookupError):
    """The count of a unit the decision needs was not given; load it and ask again."""

    def __init__(self, unit: str) -> None:
        super().__init__(unit)
        self.unit = unit


class ChildrenUnknown(LookupError):
    """The decision needs a unit's children, which the tree was not given; load them and ask again."""

    def __init__(self, unit: str) -> None:
        super().__init__(unit)
        self.unit = unit


@dataclass(frozen=True)
class OrgTree:
    """Who is whose parent. A unit whose parent is not in the tree is a root.

    A fragment of a large tree names in ``complete`` the units whose children it holds; asking
    for any other unit's children raises ``ChildrenUnknown``.
    """

    parents: Mapping[str, str | None]
    complete: frozenset[str] | None = None
    _children: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    # The order ``shown_units`` examines units in, per focus: the same for every cell of a tree.
    _examine: dict[frozenset[str], list[str]] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        children: dict[str, list[str]] = {}
        for unit, parent in sorted(self.parents.items()):
            if parent is not None and parent in self.parents:
                children.setdefault(parent, []).append(unit)
        object.__setattr__(self, "_children", children)

    def children(self, unit: str) -> list[str]:
        if self.complete is not None and unit not in self.complete:
            raise ChildrenUnknown(unit)
        return self._children.get(unit, [])

    def parent(self, unit: str) -> str | None:
        parent = self.parents.get(unit)
        return parent if parent is not None and parent in self.parents else None

    def chain(self, unit: str) -> list[str]:
        """The unit and its ancestors, nearest first (a unit the tree does not know stands alone)."""
        chain, seen = [unit], {unit}
        while (parent := self.parent(chain[-1])) is not None and parent not in seen:
            chain.append(parent)
            seen.add(parent)
        return chain

    @cached_property
    def roots(self) -> list[str]:
        return sorted(u for u in self.parents if self.parent(u) is None)


Count = Callable[[str], int]
W = TypeVar("W")


def shown_units(tree: OrgTree, count: Count, k: int, focus: Iterable[str] | None = None) -> frozenset[str]:
    """The units whose cell (one week, one measure) may be shown.

    ``count(unit)`` is the number of people in the unit's whole subtree who contributed to the
    cell; it may raise ``CountUnknown`` for a unit it was not given, which propagates so the
    caller can load it. It is read many times per unit, so it should be quick (a dict lookup).
    With ``focus``, only those units' fate is decided (and returned): just
    their ancestors' remainders are examined, which gives exactly the answer the whole tree would.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    wanted = set(focus) if focus is not None else None
    hidden: set[str] = set()

    def shown(unit: str) -> bool:
        return unit not in hidden and count(unit) >= k

    def topmost_shown_below(unit: str) -> list[str]:
        """The shown units under ``unit`` with no shown unit between them and it."""
        found: list[str] = []
        for child in tree.children(unit):
            if count(child) < k:
                continue  # nor anything below it: a subtree never counts more than its root
            if child in hidden:
                found.extend(topmost_shown_below(child))
            else:
                found.append(child)
        return found

    def settle(parent: str) -> None:
        """Hide the smallest shown units below ``parent`` until its remainder is 0 or ≥ k.

        Nothing below a shown unit is hidden before it is settled (hiding only ever goes down
        through hidden units, and ancestors are settled first): its topmost shown units are its
        children of k or more."""
        below = [(n, u) for u in tree.children(parent) if (n := count(u)) >= k]
        remainder = count(parent) - sum(n for n, _ in below)
        if not 0 < remainder < k:
            return
        heapq.heapify(below)  # smallest (count, unit) first: the next to hide
        while 0 < remainder < k:
            n, smallest = heapq.heappop(below)
            hidden.add(smallest)
            remainder += n
            for unit in topmost_shown_below(smallest):
                below_n = count(unit)
                remainder -= below_n
                heapq.heappush(below, (below_n, unit))

    examine = ancestors_first(tree, frozenset(wanted)) if wanted is not None else _top_down(tree)
    for unit in examine:
        if shown(unit):
            settle(unit)
    candidates = wanted if wanted is not None else set(tree.parents)
    return frozenset(u for u in candidates if shown(u))


def _top_down(tree: OrgTree) -> list[str]:
    order, queue = [], list(tree.roots)
    while queue:
        unit = queue.pop(0)
        order.append(unit)
        queue.extend(tree.children(unit))
    return order


def ancestors_first(tree: OrgTree, focus: frozenset[str]) -> list[str]:
    """Every unit above a focus unit, each after its parent: the units whose settling can hide one.

    A unit's own remainder never decides its own fate, only its descendants'; but settling an
    ancestor can hide it, so every ancestor must be settled, top down, before it is read. A unit
    with no focus unit below it is not settled at all: what that would hide is below it, and no
    other settle reads that part of the tree (nor any focus unit's fate).
    """
    if (known := tree._examine.get(focus)) is not None:
        return known
    depth: dict[str, int] = {}
    for unit in focus:
        chain = tree.chain(unit)
        for distance, ancestor in enumerate(chain[1:], start=1):
            depth[ancestor] = len(chain) - 1 - distance
    order = tree._examine[focus] = sorted(depth, key=lambda u: (depth[u], u))
    return order


def window_shown(unit: str, weeks: Mapping[str, frozenset[str]], counts: Mapping[str, int]) -> bool:
    """Whether a figure over several weeks may name ``unit``: every week that contributes to it
    (a count above zero) shows the unit's cell. ``weeks`` maps each week to the units shown that
    week; ``counts`` each week to the unit's count."""
    return shown_over(unit, counts, lambda week: weeks.get(week, frozenset()), counts.__getitem__)


def shown_over(unit: str, weeks: Iterable[W], shown: Callable[[W], Collection[str]], count: Callable[[W], int]) -> bool:
    """``window_shown`` with the weeks' shown units and counts looked up as needed."""
    contributing = False
    for week in weeks:
        if count(week) > 0:
            if unit not in shown(week):
                return False
            contributing = True
    return contributing
