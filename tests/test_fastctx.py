"""otel_resilience._fastctx: the API's current-context functions, frames saved."""

from __future__ import annotations

import contextvars
import logging

from opentelemetry import context as otel_context

from otel_resilience import _fastctx


def test_attach_and_detach_agree_with_the_api():
    """A context attached through _fastctx is the API's current one until detached."""
    key = otel_context.create_key("fastctx-test")
    before = otel_context.get_current()
    token = _fastctx.attach(otel_context.set_value(key, 1))
    assert otel_context.get_value(key) == 1
    assert _fastctx.current() is otel_context.get_current()
    _fastctx.detach(token)
    assert otel_context.get_current() is before


def test_detach_of_a_token_from_another_context_logs_and_returns(caplog):
    """A token made in another context cannot be reset: detach() logs it as the API does and
    does not raise."""
    token = contextvars.copy_context().run(_fastctx.attach, otel_context.Context())
    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        _fastctx.detach(token)
    assert "Failed to detach context" in caplog.text
