"""``opentelemetry-instrument`` integration: distro and configurator, both ``otel_resilience``."""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _BaseConfigurator

from ._configure import configure
from ._env import set_default

__all__ = ["OtelResilienceConfigurator", "OtelResilienceDistro"]


class OtelResilienceDistro(BaseDistro):  # type: ignore[misc]
    """Selected by ``OTEL_PYTHON_DISTRO=otel_resilience``.

    The distro is configured before configurators are loaded, so it also selects our
    configurator unless ``OTEL_PYTHON_CONFIGURATOR`` names another one.
    """

    def _configure(self, **kwargs: Any) -> None:
        set_default("OTEL_PYTHON_CONFIGURATOR", "otel_resilience")


class OtelResilienceConfigurator(_BaseConfigurator):
    """Selected by ``OTEL_PYTHON_CONFIGURATOR=otel_resilience``: runs :func:`configure` with the
    standard environment, so an unmodified script exports under ``opentelemetry-instrument``."""

    def _configure(self, **kwargs: Any) -> None:
        version = kwargs.get("auto_instrumentation_version")
        attrs = {"telemetry.auto.version": version} if version else None
        configure(resource_attributes=attrs)
