"""load_policies: named pipelines from a TOML file, followed by handles across live reloads."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry._logs import SeverityNumber

from otel_resilience import semconv
from otel_resilience._clock import SYSTEM_CLOCK, Clock
from otel_resilience._telemetry import Telemetry
from otel_resilience._validate import check_clock, check_flag, check_seconds
from otel_resilience.policies._build import Built, Objects, build
from otel_resilience.policies._env import apply_overrides
from otel_resilience.policies._errors import PolicyError
from otel_resilience.policies._toml import tomllib
from otel_resilience.policies.presets import PRESETS

__all__ = ["CONFIG_ENV", "Policies", "PolicyHandle", "load_policies"]

_log = logging.getLogger(__name__)

#: The environment variable naming the policies file when no path is given.
CONFIG_ENV = "OTEL_RESILIENCE_CONFIG"

# A file modified this recently (wall clock) is re-read even if its stat looks unchanged: a
# rewrite within one timestamp tick keeps mtime (and maybe size) the same ("racy git").
_RACY_SECONDS = 2.0
_MAX_ERROR_CHARS = 1000

P = ParamSpec("P")
T = TypeVar("T")


def load_policies(
    path: str | os.PathLike[str] | None = None,
    *,
    watch: bool = False,
    poll_interval: float = 2.0,
    clock: Clock | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    environ: Mapping[str, str] | None = None,
) -> Policies:
    """Load the pipelines of a policies file (``path``, else ``$OTEL_RESILIENCE_CONFIG``).

    Raises :class:`PolicyError` (a ``ValueError`` naming the file and TOML key) when the file
    is missing or invalid. With ``watch=True`` a lookup or call re-reads the file once
    ``poll_interval`` seconds have passed on ``clock``; see :class:`Policies`. ``environ``
    (default ``os.environ``) supplies ``OTEL_RESILIENCE_*`` overrides of single values.
    """
    env = os.environ if environ is None else environ
    if path is None:
        path = env.get(CONFIG_ENV) or None
        if path is None:
            raise PolicyError("", f"no policies file: pass a path or set {CONFIG_ENV}")
    return Policies(
        path,
        watch=watch,
        poll_interval=poll_interval,
        clock=clock,
        providers=(tracer_provider, meter_provider, logger_provider),
        environ=env,
    )


class Policies:
    """The pipelines of one policies file; :meth:`pipeline` hands out handles that follow reloads.

    Reloading swaps the whole set at once: calls already running finish under the pipelines
    they started with, new calls get the new ones. Breakers, limiters, bulkheads and caches
    whose identity (kind and name, or position in their pipeline) and options are unchanged are
    kept, with their state. An invalid, empty or missing file keeps the previous policies, logs
    one error and emits ``resilience.config.reload_failed``; a good one emits
    ``resilience.config.reloaded`` with the file's hash.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        watch: bool = False,
        poll_interval: float = 2.0,
        clock: Clock | None = None,
        providers: tuple[Any, Any, Any] = (None, None, None),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        check_flag("watch", watch)
        check_seconds("poll_interval", poll_interval)
        check_clock("clock", clock)
        self.path = Path(path)
        self._watch = watch
        self._poll_interval = float(poll_interval)
        self._clock: Clock = clock or SYSTEM_CLOCK
        self._environ = os.environ if environ is None else environ
        self._telemetry = Telemetry(*providers)
        self._pipeline_kwargs = {
            "clock": clock,
            "tracer_provider": providers[0],
            "meter_provider": providers[1],
            "logger_provider": providers[2],
        }
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._stat: tuple[int, int, int] | None = None
        self._failed: str | None = None  # what the last failed reload was, logged once
        self._stop: threading.Event | None = None
        self.generation = 0
        data, digest, stat = self._read()
        try:
            self._built = self._build(data, {})
        except PolicyError as exc:
            raise exc.in_file(str(self.path)) from exc
        self.hash = digest
        self._stat = stat
        self._next_check = self._clock.monotonic() + self._poll_interval
        self._emit_reloaded()

    # -- lookups -------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The pipelines' names, in file order."""
        return list(self._current().pipelines)

    @property
    def slos(self) -> dict[str, Any]:
        """The :class:`~otel_resilience.SLO` objects of the file's ``[slos.NAME]`` tables."""
        objects = self._current().objects
        return {i[2]: obj for i, (_, obj) in objects.items() if i[:2] == ("shared", "slos")}

    def pipeline(self, name: str) -> PolicyHandle:
        """A handle on pipeline ``name``: use it like a Pipeline (call, acall, decorator)."""
        if name not in self._current().pipelines:
            known = ", ".join(self._built.pipelines)
            raise ValueError(f"no pipeline {name!r} in {self.path} (pipelines: {known})")
        return PolicyHandle(self, name)

    def _current(self) -> Built:
        if self._watch and self._clock.monotonic() >= self._next_check:
            self._poll()
        return self._built

    # -- reloading -----------------------------------------------------------------------------

    def reload(self) -> bool:
        """Check the file now; ``True`` when new policies were loaded. Never raises."""
        return self._poll(force=True)

    def _poll(self, *, force: bool = False) -> bool:
        # One checker at a time; the others carry on with the current policies.
        if not self._lock.acquire(blocking=force):
            return False
        try:
            self._next_check = self._clock.monotonic() + self._poll_interval
            return self._check()
        except Exception:  # a reload must never fail the call that triggered it
            _log.exception("otel-resilience: checking %s failed", self.path)
            return False
        finally:
            self._lock.release()

    def _check(self) -> bool:
        try:
            st = os.stat(self.path)
            stat = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stat == self._stat and time.time() - st.st_mtime > _RACY_SECONDS:
                return False
            self._stat = stat  # examined: a broken file is not parsed again until it changes
            data, digest, stat = self._read()
            if digest == self.hash:
                self._failed = None
                return False
            built = self._build(data, self._built.objects)
        except PolicyError as exc:
            self._reload_failed(exc.in_file(str(self.path)))
            return False
        except OSError as exc:
            self._reload_failed(PolicyError("", f"cannot read the file: {exc}", str(self.path)))
            return False
        with self._changed:
            self._built, self.hash, self._stat = built, digest, stat
            self._failed = None
            self.generation += 1
            self._changed.notify_all()
        _log.info("otel-resilience: loaded policies from %s (sha256 %s)", self.path, digest)
        self._emit_reloaded()
        return True

    def _read(self) -> tuple[dict[str, Any], str, tuple[int, int, int]]:
        file = str(self.path)
        try:
            st = os.stat(self.path)
            raw = self.path.read_bytes()
        except OSError as exc:
            raise PolicyError("", f"cannot read the file: {exc}", file) from exc
        digest = hashlib.sha256(raw).hexdigest()
        if not raw.strip():
            raise PolicyError("", "the file is empty", file)
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError("", f"not valid TOML: {exc}", file) from exc
        return data, digest, (st.st_mtime_ns, st.st_size, st.st_ino)

    def _build(self, data: dict[str, Any], previous: Objects) -> Built:
        sources = apply_overrides(data, self._environ)
        return build(
            data,
            previous=previous,
            pipeline_kwargs=self._pipeline_kwargs,
            presets=PRESETS,
            sources=sources,
        )

    def _reload_failed(self, exc: PolicyError) -> None:
        message = str(exc)[:_MAX_ERROR_CHARS]
        if message == self._failed:
            return  # the same broken file: logged once, not at every poll
        self._failed = message
        _log.error("otel-resilience: keeping the previous policies: %s", message)
        attrs = {semconv.CONFIG_FILE: str(self.path), semconv.CONFIG_ERROR: message}
        inst = self._telemetry.instruments()
        inst.emit_event(semconv.LOG_EVENT_CONFIG_RELOAD_FAILED, attrs, SeverityNumber.ERROR)

    def _emit_reloaded(self) -> None:
        attrs = {semconv.CONFIG_FILE: str(self.path), semconv.CONFIG_HASH: self.hash}
        self._telemetry.instruments().emit_event(semconv.LOG_EVENT_CONFIG_RELOADED, attrs)

    # -- opt-in background watcher ---------------------------------------------------------------

    def start_watcher(self) -> None:
        """Check the file every ``poll_interval`` seconds (real time) in a daemon thread."""
        if self._stop is not None:
            return
        stop = self._stop = threading.Event()

        def watch() -> None:
            while not stop.wait(self._poll_interval):
                self._poll(force=True)

        threading.Thread(target=watch, name="otel-resilience-policies", daemon=True).start()

    def close(self) -> None:
        """Stop the background watcher, if started."""
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def wait_for_generation(self, generation: int, timeout: float | None = None) -> bool:
        """Block until :attr:`generation` reaches ``generation`` (for watchers' tests, tools)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.generation >= generation, timeout)

    def __repr__(self) -> str:
        return f"Policies({str(self.path)!r}, pipelines={list(self._built.pipelines)})"


class PolicyHandle:
    """A named pipeline of a :class:`Policies`, resolved at every call (so it follows reloads).

    A pipeline removed from the file keeps serving its handles with its last version.
    """

    __slots__ = ("_last", "_policies", "name")

    def __init__(self, policies: Policies, name: str) -> None:
        self._policies = policies
        self.name = name
        self._last: Any = policies._built.pipelines[name]

    @property
    def current(self) -> Any:
        """The :class:`~otel_resilience.Pipeline` new calls go through now."""
        found = self._policies._current().pipelines.get(self.name)
        if found is not None:
            self._last = found
            return found
        return self._last

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` through the current pipeline."""
        return self.current.call(fn, *args, **kwargs)  # type: ignore[no-any-return]

    async def acall(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``fn(*args, **kwargs)`` through the current pipeline."""
        return await self.current.acall(fn, *args, **kwargs)  # type: ignore[no-any-return]

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a ``def`` or ``async def``: every call goes through the current pipeline."""
        from otel_resilience.pipeline import decorate

        return decorate(self, fn)

    def __repr__(self) -> str:
        return f"PolicyHandle({self.name!r}, {self.current!r})"
