"""The /status page: one self-contained HTML document (inline style, no script, no assets).

Every state is written as a word next to its colour, so the page reads the same without colour.
Everything shown is escaped: check messages and error groups come from the application.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render"]

_COLOURS = {
    "healthy": "#1a7f37",
    "closed": "#1a7f37",
    "degraded": "#9a6700",
    "half_open": "#9a6700",
    "unhealthy": "#cf222e",
    "open": "#cf222e",
    "unknown": "#57606a",
}
_BREAKER_WORDS = {
    "closed": "closed (calls flow)",
    "half_open": "half-open (probing)",
    "open": "open (calls refused)",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;min-width:40rem}
th,td{border-bottom:1px solid #d0d7de;padding:.35rem .7rem;text-align:left}
th{background:#f6f8fa}.badge{display:inline-block;padding:.1rem .6rem;border-radius:1rem;
color:#fff;font-weight:600}.muted{color:#57606a}
"""


def _badge(state: str, words: str | None = None) -> str:
    colour = _COLOURS.get(state, "#57606a")
    text = words or state.replace("_", "-")
    return f'<span class="badge" style="background:{colour}">{escape(text)}</span>'


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{1000 * float(value):.1f} ms"


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _checks(checks: dict[str, Any]) -> str:
    rows = []
    for name, c in checks.items():
        error = c.get("last_error") or {}
        rows.append(
            [
                escape(name),
                _badge(c["status"]),
                "yes" if c.get("critical") else "no",
                str(c.get("consecutive_failures", 0)),
                _pct(c.get("success_rate")),
                escape(" / ".join(str(error[k]) for k in ("type", "category") if k in error)),
            ]
        )
    headers = ["Check", "Status", "Critical", "Failures in a row", "Success rate", "Last error"]
    return _table(headers, rows, "No health checks registered.")


def _breakers(breakers: list[dict[str, Any]]) -> str:
    rows = [
        [
            escape(str(b["name"])),
            _badge(b["state"], _BREAKER_WORDS.get(b["state"])),
            _pct(b.get("failure_ratio")),
            str(b.get("calls_in_window", 0)),
        ]
        for b in breakers
    ]
    headers = ["Circuit breaker", "State", "Failure ratio", "Calls in window"]
    return _table(headers, rows, "No circuit breakers in use.")


def _pipelines(pipelines: dict[str, Any], aggregation: str) -> str:
    if aggregation != "on":
        return (
            '<p class="muted">Pipeline statistics are off '
            "(otel_resilience.health.reliability.enable() turns them on).</p>"
        )
    rows = []
    for name, views in pipelines.items():
        five, hour = views["5m"], views["1h"]
        rows.append(
            [
                escape(name),
                str(five["calls"]),
                _pct(five["error_rate"]),
                _pct(hour["error_rate"]),
                " / ".join(_ms(five[q]) for q in ("p50", "p95", "p99")),
                str(five["retries"]),
                str(five["fallbacks"]),
            ]
        )
    headers = [
        "Pipeline",
        "Calls (5 min)",
        "Errors (5 min)",
        "Errors (1 h)",
        "p50 / p95 / p99 (5 min)",
        "Retries (5 min)",
        "Fallbacks (5 min)",
    ]
    return _table(headers, rows, "No calls yet.")


def _groups(groups: list[dict[str, Any]]) -> str:
    rows = []
    for g in groups:
        title = g.get("title") or g.get("type") or g.get("exception_type") or g.get("fingerprint")
        recovered = g.get("recovered")
        rows.append(
            [
                escape(str(title or "?")),
                escape(str(g.get("message") or g.get("message_template") or "")),
                escape(str(g.get("count", ""))),
                escape(str(g.get("category", ""))),
                "-" if recovered is None else ("yes" if recovered else "no"),
            ]
        )
    headers = ["Error group", "Message", "Count", "Category", "Recovered"]
    return _table(headers, rows, "No errors tracked.")


def _slos(slos: list[dict[str, Any]]) -> str:
    rows = []
    for o in slos:
        if "error" in o:
            rows.append([escape(str(o["name"])), "-", "-", "-", escape(f"error: {o['error']}")])
            continue
        alerts = o.get("alerts") or {}
        firing = [severity for severity, on in alerts.items() if on]
        words = ", ".join(f"{severity} firing" for severity in firing) or "no alert firing"
        rates = o.get("burn_rates") or {}
        rows.append(
            [
                escape(str(o["name"])),
                _pct(o.get("objective")),
                _pct(o.get("error_budget_remaining")),
                escape(" / ".join(f"{w} {float(r):.2f}x" for w, r in rates.items() if w in _BURN)),
                _badge("unhealthy" if firing else "healthy", words),
            ]
        )
    headers = ["SLO", "Objective", "Error budget left", "Burn rate (5m / 1h / 6h)", "Alerts"]
    return _table(headers, rows, "")


_BURN = ("5m", "1h", "6h")


def render(data: dict[str, Any], refresh: int) -> str:
    """The status page for ``data`` (what /reliability returns), refreshing every ``refresh`` s."""
    status = str(data["status"])
    slos = data.get("slos") or []
    events = data.get("events") or []
    recent = "".join(
        f"<li>{escape(str(e['check']))}: {escape(e['previous'])} &rarr; {escape(e['status'])}"
        f"{' (recovered)' if e.get('recovered') else ''}"
        f' <span class="muted">{float(e["ago"]):.0f} s ago</span></li>'
        for e in reversed(events[-10:])
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{int(refresh)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Status: {escape(status)}</title><style>{_STYLE}</style></head>
<body>
<h1>Service status: {_badge(status)}</h1>
<p class="muted">Up for {float(data["uptime"]):.0f} s. Updated {escape(str(data["generated_at"]))},
refreshes every {int(refresh)} s.</p>
<h2>Health checks</h2>{_checks(data["checks"])}
<h2>Circuit breakers</h2>{_breakers(data["breakers"])}
<h2>Pipelines</h2>{_pipelines(data["pipelines"], str(data["aggregation"]))}
{f"<h2>Service-level objectives</h2>{_slos(slos)}" if slos else ""}
<h2>Top error groups</h2>{_groups(data["error_groups"])}
<h2>Recent changes</h2>{f"<ul>{recent}</ul>" if recent else '<p class="muted">None.</p>'}
</body></html>
"""
