"""HttpRunner: one logical HTTP request through its host's pipeline, one span per attempt.

The decisions (pass through or not, retry or not, which pipeline) are made once, in
:meth:`HttpRunner._plan`; :meth:`HttpRunner.send` and :meth:`HttpRunner.asend` are the sync
and async twins that carry them out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from opentelemetry import context as otel_context

from otel_resilience import Pipeline, deadline
from otel_resilience._clock import Clock
from otel_resilience._telemetry import Telemetry
from otel_resilience_instrumentation._http.attrs import Target
from otel_resilience_instrumentation._http.config import load_policies
from otel_resilience_instrumentation._http.hosts import Fast, Host, Hosts
from otel_resilience_instrumentation._http.lane import (
    First,
    _attach,
    _bare,
    _current,
    _new_attempt,
    _reset,
)
from otel_resilience_instrumentation._http.managed import MANAGED_KEY, ManagedAttempt
from otel_resilience_instrumentation._http.policy import HttpPolicy, is_idempotent
from otel_resilience_instrumentation._http.telemetry import AttemptRecord, HttpTelemetry
from otel_resilience_instrumentation._http.types import (
    PASS_THROUGH,
    Attempt,
    HttpRequest,
    ResponseAdapter,
)

try:  # the key suppress_http_instrumentation() sets; set here with our span in one attach
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP
except ImportError:  # pragma: no cover - an API that moved it
    from opentelemetry.instrumentation.utils import (  # type: ignore[attr-defined]
        _SUPPRESS_HTTP_INSTRUMENTATION_KEY as _SUPPRESS_HTTP,
    )

try:  # the keys suppress_instrumentation() sets (the plain one is an older spelling)
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS
    from opentelemetry.instrumentation.utils import (
        _SUPPRESS_INSTRUMENTATION_KEY_PLAIN as _SUPPRESS_PLAIN,
    )
except ImportError:  # pragma: no cover - an API that moved them
    from opentelemetry.instrumentation.utils import (  # type: ignore[attr-defined]
        _SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS,
    )

    _SUPPRESS_PLAIN = "suppress_instrumentation"

__all__ = ["HttpRunner"]


R = TypeVar("R")


class _Call:
    """One logical request: its attempts so far, and its Target once telemetry needs it."""

    __slots__ = ("ctx", "managed", "n", "request", "target")

    def __init__(self, request: HttpRequest) -> None:
        self.n = 0
        self.request = request
        self.target: Target | None = None
        self.managed: ManagedAttempt | None = None
        #: The context the request was made in (read once by the plan).
        self.ctx: otel_context.Context | None = None

    def get_target(self) -> Target:
        target = self.target
        if target is None:
            r = self.request
            self.target = target = Target.of(r.method, r.url, r.host, r.port, r.scheme)
        return target


#: Origins (host, port, scheme) remembered with their host; cleared when this many.
_MAX_ORIGINS = 4096


class HttpRunner(Generic[R]):
    """Runs a client's requests through per-host pipelines (Retry + CircuitBreaker).

    One runner per instrumented client library: ``adapter`` knows its response type,
    ``policies`` (merged with the environment, see :mod:`.config`; ``environ`` replaces
    ``os.environ`` in tests) decide per host. The telemetry providers default to the global
    ones; ``clock`` serves backoff sleeps and breaker windows (a FakeClock in tests).
    """

    def __init__(
        self,
        adapter: ResponseAdapter[R],
        *,
        policies: Mapping[str, HttpPolicy] | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.adapter = adapter
        self.policies = load_policies(policies, environ)
        providers = {
            "tracer_provider": tracer_provider,
            "meter_provider": meter_provider,
            "logger_provider": logger_provider,
        }
        Telemetry(tracer_provider, meter_provider, logger_provider)  # fails fast on bad ones
        self._telemetry = HttpTelemetry(tracer_provider, meter_provider)
        self._hosts = Hosts(self.policies, adapter, clock, providers)
        #: (host, port, scheme) as the adapter parsed them -> the host's state, without the
        #: hosts registry's lock: a plan then needs no Target (built only when telemetry
        #: records). A Host evicted from the registry and made again shares its breaker
        #: with this one (breakers live in their own registry, by host key).
        self._origins: dict[tuple[str, int | None, str], Host] = {}

    def policy_for(self, url: str) -> HttpPolicy:
        """The policy :meth:`send` would apply to a request for ``url`` (its host's), for an
        adapter that must decide something before the request reaches its patch point."""
        return self.host_of(url).policy

    def host_of(self, url: str) -> Host:
        """The host state :meth:`send` would use for a request to ``url`` (the lane's, for an
        adapter that does not parse URLs)."""
        target = Target.of("GET", url)
        return self._hosts.get(target.key, target.host)

    # -- the decision, shared by send and asend --------------------------------------------------

    def _plan(self, request: HttpRequest, call: _Call) -> tuple[Pipeline, HttpPolicy, Fast] | None:
        """``None`` to pass the request straight through, else its pipeline, policy and
        :class:`Fast` path."""
        ctx = _current()  # read once for suppression, LLM and trace context
        # not is_http_instrumentation_enabled(), from this one read (that helper reads thrice)
        if ctx and (ctx.get(_SUPPRESS) or ctx.get(_SUPPRESS_PLAIN) or ctx.get(_SUPPRESS_HTTP)):
            return None
        call.ctx = ctx
        managed = ctx.get(MANAGED_KEY)
        if isinstance(managed, ManagedAttempt):
            call.managed = managed
        host_name, port, scheme = request.host, request.port, request.scheme
        if host_name is not None and scheme is not None:
            origin = (host_name, port, scheme)
            host = self._origins.get(origin)
            if host is None:
                target = Target.of(request.method, "", host_name, port, scheme)
                host = self._hosts.get(target.key, target.host)
                if len(self._origins) >= _MAX_ORIGINS:
                    self._origins.clear()
                self._origins[origin] = host
        else:  # the adapter did not parse the URL: the Target does, once
            target = call.get_target()
            host = self._hosts.get(target.key, target.host)
        policy = host.policy
        if not policy.enabled:
            return None
        retry = (
            policy.max_attempts > 1
            and request.replayable
            and (request.method in policy.retry_methods or is_idempotent(policy, request))
        )
        pipeline = host.pipelines.get(retry) or self._hosts.pipeline(host, retry)
        return pipeline, policy, host.fast  # type: ignore[return-value]  # set with a pipeline

    def _start(
        self, call: _Call, policy: HttpPolicy
    ) -> tuple[AttemptRecord | None, Attempt, otel_context.Context | None]:
        """The attempt's record (``None`` when nothing records), what the adapter applies, and
        the context to send it in: this attempt's span current and HTTP instrumentation
        suppressed, so a contrib instrumentor further in (at the transport) stays quiet.
        When nothing records there is no context to enter (``None``): with no span of ours,
        there is no second span to prevent."""
        telemetry = self._telemetry
        if not telemetry.records():
            return None, _bare(call, policy), None
        call.n += 1
        record = telemetry.start(call.request, call.get_target, call.n - 1)
        if call.managed is not None:
            with contextlib.suppress(Exception):  # a hostile value: the span goes without it
                record.span.set_attributes(call.managed.attributes)
        remaining = deadline.remaining() if policy.cap_timeout_to_deadline else None
        ctx = record.context()  # the attempt's span current, HTTP instrumentation suppressed
        return record, _new_attempt((call.n, record.headers(), remaining)), ctx

    def _responded(self, record: AttemptRecord | None, response: R, call: _Call) -> R:
        if record is None:
            return response
        if call.managed is not None:  # the LLM runner ends the span once it parsed the body
            try:
                adapter = self.adapter
                record.responded(adapter.status(response), adapter.protocol_version(response))
            finally:
                call.managed.sent(record, response)
            return response
        adapter = self.adapter
        try:
            record.responded(adapter.status(response), adapter.protocol_version(response))
            adapter.watch_body(response, record.body_done)
        except Exception:  # an adapter bug must not fail the request: end the span now
            record.end()
        return response

    # -- sync ------------------------------------------------------------------------------------

    def send(self, request: HttpRequest, send: Callable[[Attempt], R]) -> R:
        """Send ``request``: ``send(attempt)`` once per attempt, returning the client's
        response (headers read, body not handed to the caller yet) or raising."""
        call = _Call(request)
        plan = self._plan(request, call)
        if plan is None:
            return send(PASS_THROUGH)
        pipeline, policy, fast = plan
        managed = call.managed
        if managed is not None:  # issue 10: the LLM runner retries and breaks; trace only
            call.n = managed.number - 1
            return self._attempt(send, call, policy)
        permit: int | None = None
        if not self._telemetry.records():
            breaker = fast.breaker
            permit = 0 if breaker is None else breaker._closed_permit()
        if permit is None:
            return pipeline.call(self._attempt, send, call, policy)
        # Nothing records and the breaker is closed: the first attempt goes without the
        # pipeline, and only a response that failed or an error is handed to it (Fast).
        first = First()
        try:
            response = send(_bare(call, policy, call.ctx))
        except Exception as exc:
            first.error = exc
        else:
            if not fast.failed(response):
                if fast.breaker is not None:
                    fast.breaker._closed_success(permit)
                return response
            first.response = response
        return self._hand_over(pipeline, first, send, call, policy)

    def resume(self, request: HttpRequest, send: Callable[[Attempt], R], first: First) -> R:
        """Carry on a request whose first attempt went on the lane (see :mod:`.lane`) and
        failed: ``first`` holds its error or failed response, handed to the host's pipeline
        as its first attempt's outcome."""
        call = _Call(request)
        plan = self._plan(request, call)
        if plan is None:  # pragma: no cover - suppressed since the lane's check: no retry
            return first.take()  # type: ignore[no-any-return]
        call.n = 1
        return self._hand_over(plan[0], first, send, call, plan[1])

    def _hand_over(
        self,
        pipeline: Pipeline,
        first: First,
        send: Callable[[Attempt], R],
        call: _Call,
        policy: HttpPolicy,
    ) -> R:
        try:
            return pipeline.call(self._again, first, send, call, policy)
        except Exception:
            if first.pending:  # refused before it took the outcome (the breaker opened)
                return first.take()  # type: ignore[no-any-return]
            raise

    def _again(
        self, first: First, send: Callable[[Attempt], R], call: _Call, policy: HttpPolicy
    ) -> R:
        if first.pending:
            return first.take()  # type: ignore[no-any-return]
        return self._attempt(send, call, policy)

    def _attempt(self, send: Callable[[Attempt], R], call: _Call, policy: HttpPolicy) -> R:
        record, attempt, ctx = self._start(call, policy)
        if ctx is None:
            if call.managed is None:
                return send(attempt)
            response = send(attempt)
            call.managed.sent(None, response)  # its headers feed the LLM rate-limit gauges
            return response
        token = _attach(ctx)
        try:
            response = send(attempt)
        except BaseException as exc:
            if record is not None:
                record.failed(exc)
            raise
        finally:
            try:
                _reset(token)
            except Exception:  # fails again, logged as the API's detach() does
                otel_context.detach(token)
        return self._responded(record, response, call)

    # -- async -----------------------------------------------------------------------------------

    async def asend(self, request: HttpRequest, send: Callable[[Attempt], Awaitable[R]]) -> R:
        """Async twin of :meth:`send`: ``await send(attempt)`` once per attempt."""
        call = _Call(request)
        plan = self._plan(request, call)
        if plan is None:
            return await send(PASS_THROUGH)
        pipeline, policy, fast = plan
        managed = call.managed
        if managed is not None:  # issue 10: the LLM runner retries and breaks; trace only
            call.n = managed.number - 1
            return await self._aattempt(send, call, policy)
        permit: int | None = None
        if not self._telemetry.records():
            breaker = fast.breaker
            permit = 0 if breaker is None else breaker._closed_permit()
        if permit is None:
            return await pipeline.acall(self._aattempt, send, call, policy)
        # Nothing records and the breaker is closed: the first attempt goes without the
        # pipeline, and only a response that failed or an error is handed to it (Fast).
        first = First()
        try:
            response = await send(_bare(call, policy, call.ctx))
        except Exception as exc:
            first.error = exc
        else:
            if not fast.failed(response):
                if fast.breaker is not None:
                    fast.breaker._closed_success(permit)
                return response
            first.response = response
        return await self._ahand_over(pipeline, first, send, call, policy)

    async def aresume(
        self, request: HttpRequest, send: Callable[[Attempt], Awaitable[R]], first: First
    ) -> R:
        """Async twin of :meth:`resume`."""
        call = _Call(request)
        plan = self._plan(request, call)
        if plan is None:  # pragma: no cover - suppressed since the lane's check: no retry
            return first.take()  # type: ignore[no-any-return]
        call.n = 1
        return await self._ahand_over(plan[0], first, send, call, plan[1])

    async def _ahand_over(
        self,
        pipeline: Pipeline,
        first: First,
        send: Callable[[Attempt], Awaitable[R]],
        call: _Call,
        policy: HttpPolicy,
    ) -> R:
        try:
            return await pipeline.acall(self._aagain, first, send, call, policy)
        except Exception:
            if first.pending:  # refused before it took the outcome (the breaker opened)
                return first.take()  # type: ignore[no-any-return]
            raise

    async def _aagain(
        self,
        first: First,
        send: Callable[[Attempt], Awaitable[R]],
        call: _Call,
        policy: HttpPolicy,
    ) -> R:
        if first.pending:
            return first.take()  # type: ignore[no-any-return]
        return await self._aattempt(send, call, policy)

    async def _aattempt(
        self, send: Callable[[Attempt], Awaitable[R]], call: _Call, policy: HttpPolicy
    ) -> R:
        record, attempt, ctx = self._start(call, policy)
        if ctx is None:
            if call.managed is None:
                return await send(attempt)
            response = await send(attempt)
            call.managed.sent(None, response)  # its headers feed the LLM rate-limit gauges
            return response
        token = _attach(ctx)
        try:
            response = await send(attempt)
        except BaseException as exc:
            if record is not None:
                record.failed(exc)
            raise
        finally:
            try:
                _reset(token)
            except Exception:  # fails again, logged as the API's detach() does
                otel_context.detach(token)
        return self._responded(record, response, call)
