"""Error tracking: fingerprinted groups, breadcrumbs, global hooks, errors as OTel log records.

See ``docs/errors.md``.
"""

from __future__ import annotations

from ._breadcrumbs import Breadcrumb
from ._fingerprint import fingerprint, message_template
from ._strategy import TrackErrors
from ._tracker import ErrorTracker, TrackerOptions

__all__ = [
    "Breadcrumb",
    "ErrorTracker",
    "TrackErrors",
    "TrackerOptions",
    "fingerprint",
    "message_template",
]
