"""Chaos: inject faults, latency or wrong results into a share of calls, to prove the rest."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from otel_resilience import semconv
from otel_resilience._clock import Clock
from otel_resilience._strategy import CallContext, Strategy
from otel_resilience.chaos._core import Dice, fresh_error, resolve_enabled
from otel_resilience.chaos.options import ChaosKind, ChaosOptions

__all__ = ["Chaos"]

T = TypeVar("T")
_log = logging.getLogger(__name__)
_KIND_VALUES = {
    "fault": semconv.CHAOS_KIND_FAULT,
    "latency": semconv.CHAOS_KIND_LATENCY,
    "result": semconv.CHAOS_KIND_RESULT,
}


class Chaos(Strategy):
    """Inject a fault, a delay or a wrong result into a share ``rate`` of the calls.

    Build one with :meth:`fault` (raise ``error`` instead of calling), :meth:`latency` (sleep
    ``seconds`` on the clock, then call) or :meth:`result` (return ``value`` instead of
    calling). Chaos is **off by default**: it injects only when ``enabled=True`` or, with
    ``enabled=None``, when ``OTEL_RESILIENCE_CHAOS=true``; and never in an environment named
    like production unless ``OTEL_RESILIENCE_CHAOS_ALLOW_PRODUCTION=true`` too (see
    docs/chaos.md). Switched off, it passes every call through. ``seed`` makes the sequence
    of hit calls reproducible.

    It is a *shaping* strategy: it replaces or delays the call itself. Put it innermost to
    exercise the strategies around it.
    """

    __slots__ = ("_dice", "_enabled", "_kind", "options")

    strategy_name = semconv.STRATEGY_CHAOS

    def __init__(
        self,
        *,
        kind: ChaosKind,
        rate: float,
        error: BaseException | type[BaseException] | None = None,
        seconds: float | None = None,
        value: Any = None,
        seed: int | None = None,
        enabled: bool | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.options = ChaosOptions(
            kind=kind,
            rate=rate,
            error=error,
            seconds=seconds,
            value=value,
            seed=seed,
            enabled=enabled,
        )
        if isinstance(error, type):
            try:
                fresh_error(error)
            except Exception as exc:
                raise ValueError(
                    f"error must be an exception class callable with one message, got {error!r}"
                ) from exc
        super().__init__(clock=clock)
        on, why_not = resolve_enabled(enabled, os.environ)
        if why_not is not None:
            _log.warning("otel-resilience: %s", why_not)
        self._enabled = on
        self._kind = _KIND_VALUES[kind]
        self._dice = Dice(rate, seed)

    @classmethod
    def fault(
        cls,
        *,
        rate: float,
        error: BaseException | type[BaseException],
        seed: int | None = None,
        enabled: bool | None = None,
        clock: Clock | None = None,
    ) -> Chaos:
        """Raise ``error`` (a fresh copy, or instance of a class, each time) instead of calling."""
        return cls(kind="fault", rate=rate, error=error, seed=seed, enabled=enabled, clock=clock)

    @classmethod
    def latency(
        cls,
        *,
        rate: float,
        seconds: float,
        seed: int | None = None,
        enabled: bool | None = None,
        clock: Clock | None = None,
    ) -> Chaos:
        """Sleep ``seconds`` on the clock before calling."""
        return cls(
            kind="latency", rate=rate, seconds=seconds, seed=seed, enabled=enabled, clock=clock
        )

    @classmethod
    def result(
        cls,
        *,
        rate: float,
        value: Any = None,
        seed: int | None = None,
        enabled: bool | None = None,
        clock: Clock | None = None,
    ) -> Chaos:
        """Return ``value`` instead of calling."""
        return cls(kind="result", rate=rate, value=value, seed=seed, enabled=enabled, clock=clock)

    @property
    def enabled(self) -> bool:
        """Whether this Chaos injects at all: decided once, when it is built."""
        return self._enabled

    def _passthrough(self) -> bool:
        return not self._enabled  # switched off: the pipeline builds no layer for it

    def __repr__(self) -> str:
        o = self.options
        return f"Chaos(kind={o.kind!r}, rate={o.rate!r}, enabled={self.enabled})"

    def _injected(self, ctx: CallContext) -> None:
        span = ctx.span
        if span is not None:
            if self._kind != semconv.CHAOS_KIND_LATENCY:
                # The injection stands in for an attempt: number it as the pipeline's leaf
                # numbers the attempts that reach the function (it counts only when recording).
                ctx.attempts += 1
            span.set_attribute(semconv.CHAOS_INJECTED, True)
            span.add_event(semconv.SPAN_EVENT_CHAOS, {semconv.CHAOS_KIND: self._kind})
        ctx.inst.count(
            ctx.pipeline,
            self.strategy_name,
            semconv.EVENT_CHAOS_INJECTED,
            {semconv.CHAOS_KIND: self._kind},
        )

    # -- adapters -------------------------------------------------------------------------------

    def _run(self, nxt: Callable[[], T], ctx: CallContext) -> T:
        if not self._enabled or not self._dice.hit():
            return nxt()
        self._injected(ctx)
        o = self.options
        if o.kind == "fault":
            raise fresh_error(o.error)
        if o.kind == "result":
            return o.value  # type: ignore[no-any-return]
        self._clock.sleep(o.seconds)  # type: ignore[arg-type]
        return nxt()

    async def _arun(self, nxt: Callable[[], Awaitable[T]], ctx: CallContext) -> T:
        if not self._enabled or not self._dice.hit():
            return await nxt()
        self._injected(ctx)
        o = self.options
        if o.kind == "fault":
            raise fresh_error(o.error)
        if o.kind == "result":
            return o.value  # type: ignore[no-any-return]
        await self._clock.asleep(o.seconds)  # type: ignore[arg-type]
        return await nxt()
