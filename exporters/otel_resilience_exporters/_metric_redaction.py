"""Redaction of metric data: data point, scope and resource attributes, after aggregation.

Scrubbing can make two data points of a metric carry the same attributes (two e-mail
addresses both become ``[REDACTED:email]``). Backends reject such duplicates (Prometheus refuses
the scrape), so they are merged the way an attribute-dropping view would have aggregated them:
sums added, histograms combined bucket by bucket, the latest gauge value kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Buckets,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    Sum,
)

from ._delegate import DelegatingMetricExporter
from ._redaction import Redactor

__all__ = ["RedactingMetricExporter", "redact_metrics_data"]


def _key(attributes: Any) -> tuple[tuple[str, str], ...]:
    # repr: attribute values may be lists, which do not hash.
    return tuple(sorted((str(k), repr(v)) for k, v in (attributes or {}).items()))


def _merge_number(a: NumberDataPoint, b: NumberDataPoint, is_sum: bool) -> NumberDataPoint:
    if not is_sum:  # a gauge: the latest value wins
        return b if b.time_unix_nano >= a.time_unix_nano else a
    return dataclasses.replace(
        a,
        start_time_unix_nano=min(a.start_time_unix_nano, b.start_time_unix_nano),
        time_unix_nano=max(a.time_unix_nano, b.time_unix_nano),
        value=a.value + b.value,
        exemplars=[*a.exemplars, *b.exemplars],
    )


def _merge_histogram(a: HistogramDataPoint, b: HistogramDataPoint) -> HistogramDataPoint:
    if tuple(a.explicit_bounds) != tuple(b.explicit_bounds):  # never within one metric
        return a
    return dataclasses.replace(
        a,
        start_time_unix_nano=min(a.start_time_unix_nano, b.start_time_unix_nano),
        time_unix_nano=max(a.time_unix_nano, b.time_unix_nano),
        count=a.count + b.count,
        sum=a.sum + b.sum,
        bucket_counts=[x + y for x, y in zip(a.bucket_counts, b.bucket_counts, strict=True)],
        min=min(a.min, b.min),
        max=max(a.max, b.max),
        exemplars=[*a.exemplars, *b.exemplars],
    )


def _merge_buckets(a: Buckets, a_shift: int, b: Buckets, b_shift: int) -> Buckets:
    # Bring both to the coarser scale (index >> shift), then add counts index by index.
    counts: dict[int, int] = {}
    for buckets, shift in ((a, a_shift), (b, b_shift)):
        for i, n in enumerate(buckets.bucket_counts):
            if n:
                index = (buckets.offset + i) >> shift
                counts[index] = counts.get(index, 0) + n
    if not counts:
        return Buckets(offset=0, bucket_counts=[])
    low, high = min(counts), max(counts)
    return Buckets(offset=low, bucket_counts=[counts.get(i, 0) for i in range(low, high + 1)])


def _merge_exponential(
    a: ExponentialHistogramDataPoint, b: ExponentialHistogramDataPoint
) -> ExponentialHistogramDataPoint:
    scale = min(a.scale, b.scale)
    da, db = a.scale - scale, b.scale - scale
    return dataclasses.replace(
        a,
        start_time_unix_nano=min(a.start_time_unix_nano, b.start_time_unix_nano),
        time_unix_nano=max(a.time_unix_nano, b.time_unix_nano),
        count=a.count + b.count,
        sum=a.sum + b.sum,
        scale=scale,
        zero_count=a.zero_count + b.zero_count,
        positive=_merge_buckets(a.positive, da, b.positive, db),
        negative=_merge_buckets(a.negative, da, b.negative, db),
        min=min(a.min, b.min),
        max=max(a.max, b.max),
        exemplars=[*a.exemplars, *b.exemplars],
    )


def _merge(a: Any, b: Any, data: Any) -> Any:
    if isinstance(a, NumberDataPoint):
        return _merge_number(a, b, isinstance(data, Sum))
    if isinstance(a, HistogramDataPoint):
        return _merge_histogram(a, b)
    return _merge_exponential(a, b)


def _redact_exemplars(exemplars: Sequence[Any], redactor: Redactor) -> Sequence[Any]:
    out = []
    changed = False
    for exemplar in exemplars:
        attrs = redactor.scrub_attributes(exemplar.filtered_attributes)
        if attrs is None:
            out.append(exemplar)
        else:
            out.append(dataclasses.replace(exemplar, filtered_attributes=attrs))
            changed = True
    return out if changed else exemplars


def _redact_points(data: Any, redactor: Redactor) -> Any:
    """``data`` itself when no point changed, else a copy with scrubbed, merged points."""
    merged: dict[tuple[tuple[str, str], ...], Any] = {}
    changed = False
    for original in data.data_points:
        point = original
        attrs = redactor.scrub_attributes(point.attributes)
        exemplars = _redact_exemplars(point.exemplars, redactor)
        if attrs is not None or exemplars is not point.exemplars:
            changed = True
            point = dataclasses.replace(
                point,
                attributes=point.attributes if attrs is None else attrs,
                exemplars=exemplars,
            )
        key = _key(point.attributes)
        if key in merged:
            changed = True
            point = _merge(merged[key], point, data)
        merged[key] = point
    if not changed:
        return data
    return dataclasses.replace(data, data_points=list(merged.values()))


def redact_metrics_data(data: MetricsData, redactor: Redactor) -> MetricsData:
    """``data`` with scrubbed resource, scope and data point attributes (see the module)."""
    resource_metrics = []
    for rm in data.resource_metrics:
        scope_metrics = []
        for sm in rm.scope_metrics:
            metrics = [
                dataclasses.replace(m, data=_redact_points(m.data, redactor)) for m in sm.metrics
            ]
            scope = redactor.scrub_scope(sm.scope) or sm.scope
            scope_metrics.append(dataclasses.replace(sm, scope=scope, metrics=metrics))
        resource = redactor.scrub_resource(rm.resource)
        resource_metrics.append(
            dataclasses.replace(rm, resource=resource, scope_metrics=scope_metrics)
        )
    return MetricsData(resource_metrics=resource_metrics)


class RedactingMetricExporter(DelegatingMetricExporter):
    """Hands ``inner`` scrubbed metric data (see :func:`redact_metrics_data`).

    Data that cannot be scrubbed is not exported: the export fails (and is counted by the
    guard around it) rather than sending it unscrubbed.
    """

    def __init__(self, inner: Any, redactor: Redactor) -> None:
        super().__init__(inner)
        self.redactor = redactor

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Scrub, then delegate."""
        scrubbed = redact_metrics_data(metrics_data, self.redactor)
        return self.inner.export(scrubbed, timeout_millis=timeout_millis, **kwargs)
