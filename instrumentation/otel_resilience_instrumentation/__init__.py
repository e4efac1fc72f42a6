"""Auto-instrumentation for otel-resilience (patches arrive in later releases)."""

__all__: list[str] = []
