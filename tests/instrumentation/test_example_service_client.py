"""examples/httpx_service_client.py: the inventory host's own policy (retry, breaker) from code,
other hosts on the defaults; in process with a FakeClock, and its ``main`` as a script."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from httpx_support import client_spans
from servers import InstrServer, Reply, running_server

from otel_resilience import semconv

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "httpx_service_client.py"
UNITS = Reply(200, body=b'{"units": 7}', headers={"Content-Type": "application/json"})


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("httpx_service_client", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


example = _load()


@pytest.fixture
def inventory() -> Iterator[InstrServer]:
    """The inventory service, answering 7 units unless scripted otherwise."""
    with running_server() as httpd:
        httpd.default = UNITS
        yield httpd


@pytest.fixture
def instrumented(inventory, otel_capture, fake_clock) -> Iterator[Any]:
    """httpx instrumented the example's way, recording into the capture, on the FakeClock."""
    instrumentor = example.instrument(inventory.url, **otel_capture.providers, clock=fake_clock)
    yield instrumentor
    instrumentor.uninstrument()


def test_policy_key_names_the_port_only_when_given():
    """The inventory policy is keyed like the instrumentor's host keys."""
    assert example.host_key("http://127.0.0.1:8000/x") == "127.0.0.1:8000"
    assert example.host_key("https://inventory.example.com/") == "inventory.example.com"


def test_a_503_is_retried_once_then_answered(inventory, instrumented, otel_capture):
    """One 503 then 200: the lookup gets its units after one retry (two CLIENT spans)."""
    inventory.script(503)
    with example.InventoryClient(inventory.url) as client:
        assert client.stock("sku-1") == example.Stock(7)
    assert inventory.count == 2
    assert [r.path for r in inventory.received] == ["/stock/sku-1"] * 2
    assert len(client_spans(otel_capture)) == 2


def test_the_inventory_breaker_opens_and_spares_the_network(inventory, instrumented, otel_capture):
    """The inventory host failing: 2 attempts per lookup (its policy), its breaker opens after
    4 failed attempts, and the next lookup is "circuit open" without a request."""
    inventory.default = Reply(503)
    with example.InventoryClient(inventory.url) as client:
        first, second, third = (client.stock(f"sku-{n}") for n in range(3))
    assert first == second == example.Stock(None, "HTTP 503")
    assert third == example.Stock(None, "circuit open")
    assert inventory.count == 4
    (change,) = otel_capture.logs(semconv.LOG_EVENT_CIRCUIT_STATE_CHANGE)
    attrs = change.log_record.attributes
    assert attrs[semconv.CIRCUIT_BREAKER_NAME] == example.host_key(inventory.url)
    assert attrs[semconv.CIRCUIT_BREAKER_STATE] == "open"


def test_other_hosts_keep_the_defaults(inventory, instrumented):
    """Another host is not the inventory's: three attempts (the default) and no early breaker."""
    with running_server() as other:
        other.default = Reply(503)
        with example.InventoryClient(other.url) as client:
            answers = [client.stock("sku-1") for _ in range(3)]
        assert answers == [example.Stock(None, "HTTP 503")] * 3
        assert other.count == 9
    assert inventory.count == 0


def test_main_prints_each_lookup(inventory, tmp_path):
    """The script against a service that fails after one answer: units, then a lookup failing
    twice; the next one's first failure (4 calls, 3 failed) opens the breaker, which rejects
    its retry and the later lookups without a request."""
    inventory.script(UNITS)
    inventory.default = Reply(503)
    env = {**os.environ, "OTEL_RESILIENCE_EXPORTER": "none"}
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), inventory.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "sku-1: 7",
        "sku-2: unavailable (HTTP 503)",
        "sku-3: unavailable (circuit open)",
        "sku-4: unavailable (circuit open)",
        "sku-5: unavailable (circuit open)",
    ]
    assert inventory.count == 4
