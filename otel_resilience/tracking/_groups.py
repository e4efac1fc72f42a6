"""The bounded table of error groups."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

__all__ = ["Group", "GroupTable"]


@dataclass(slots=True)
class Group:
    """One error group: every occurrence with the same fingerprint."""

    fingerprint: str
    type: str
    template: str
    category: str
    severity: str
    first_seen: float
    last_seen: float
    count: int = 0
    recovered_count: int = 0
    recovered: bool = False
    sample_trace_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (what ``ErrorTracker.groups()`` returns)."""
        return {
            "fingerprint": self.fingerprint,
            "type": self.type,
            "message": self.template,
            "category": self.category,
            "severity": self.severity,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "recovered": self.recovered,
            "recovered_count": self.recovered_count,
            "sample_trace_id": self.sample_trace_id,
        }


class GroupTable:
    """At most ``limit`` groups; the least recently seen one makes room for a new one.

    Callers hold the tracker's lock.
    """

    __slots__ = ("_groups", "evicted", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._groups: OrderedDict[str, Group] = OrderedDict()
        self.evicted = 0

    def get(self, key: str) -> Group | None:
        """The group ``key``, marked most recently seen."""
        group = self._groups.get(key)
        if group is not None:
            self._groups.move_to_end(key)
        return group

    def add(self, group: Group) -> None:
        """Add a new group, evicting the least recently seen one when full."""
        if len(self._groups) >= self.limit:
            self._groups.popitem(last=False)
            self.evicted += 1
        self._groups[group.fingerprint] = group

    def __len__(self) -> int:
        return len(self._groups)

    def snapshot(self) -> list[Group]:
        """Every group, most frequent first (then most recent)."""
        return sorted(self._groups.values(), key=lambda g: (-g.count, -g.last_seen))
