"""Breadcrumbs: a bounded trail of what happened before an error, one per context."""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Breadcrumb", "Trail", "TrailHandler"]

#: Characters of a breadcrumb's message kept.
_MESSAGE_MAX = 256


@dataclass(frozen=True, slots=True)
class Breadcrumb:
    """One step of a trail: when (epoch seconds), where from, what, and small extra data."""

    timestamp: float
    category: str
    message: str
    level: str = "info"
    data: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        """One line: ``HH:MM:SS.mmm category level: message key=value...``."""
        clock = time.strftime("%H:%M:%S", time.gmtime(self.timestamp))
        millis = int(self.timestamp * 1000) % 1000
        extra = "".join(f" {k}={_short_repr(v)}" for k, v in self.data.items())
        return f"{clock}.{millis:03d} {self.category} {self.level}: {self.message}{extra}"


def _short_repr(value: Any) -> str:
    """``repr(value)`` cut to ``_MESSAGE_MAX`` characters; never raises (hostile objects)."""
    try:
        text = repr(value)
    except Exception:
        return "<unprintable>"
    return text if len(text) <= _MESSAGE_MAX else text[:_MESSAGE_MAX] + "..."


def _small(value: Any) -> Any:
    """Numbers, bools and short strings as they are; anything else as its short ``repr()``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MESSAGE_MAX else value[:_MESSAGE_MAX] + "..."
    return _short_repr(value)


class Trail:
    """The trail of the current context: an immutable tuple replaced on every append, so a
    task or thread that copied the context keeps its own trail from then on."""

    __slots__ = ("_var", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._var: ContextVar[tuple[Breadcrumb, ...]] = ContextVar(
            f"otel_resilience_breadcrumbs_{id(self)}", default=()
        )

    def add(self, crumb: Breadcrumb) -> None:
        """Append ``crumb``, dropping the oldest beyond ``limit``."""
        trail = self._var.get()
        self._var.set((*trail[-(self.limit - 1) :], crumb) if self.limit > 1 else (crumb,))

    def get(self) -> tuple[Breadcrumb, ...]:
        """The current context's trail, oldest first."""
        return self._var.get()

    def clear(self) -> None:
        """Start an empty trail in the current context."""
        self._var.set(())


#: Data items kept per breadcrumb.
_DATA_MAX = 16


def make_crumb(category: str, message: str, level: str, data: dict[str, Any]) -> Breadcrumb:
    """A breadcrumb stamped now, its message cut to a bounded length, its data made small now:
    numbers and short strings kept, other objects as short ``repr()`` strings (a trail neither
    keeps the caller's objects alive nor grows with them)."""
    text = message if len(message) <= _MESSAGE_MAX else message[:_MESSAGE_MAX] + "..."
    items = list(data.items())[:_DATA_MAX]
    kept = {str(k)[:_KEY_MAX]: _small(v) for k, v in items}
    return Breadcrumb(time.time(), category, text, level, kept)


_KEY_MAX = 64


class TrailHandler(logging.Handler):
    """A logging handler that turns each record into a breadcrumb of ``trail``."""

    def __init__(self, trail: Trail, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.trail = trail

    def emit(self, record: logging.LogRecord) -> None:
        """Add the record as a ``log`` breadcrumb (never raises)."""
        try:
            crumb = make_crumb("log", record.getMessage(), record.levelname.lower(), {})
            self.trail.add(
                Breadcrumb(
                    record.created,
                    crumb.category,
                    crumb.message,
                    crumb.level,
                    {"logger": record.name},
                )
            )
        except Exception:  # a broken record never breaks the caller's logging
            self.handleError(record)
