"""The lease renewer of a ResponseCache's shared level (L2), against a real redis-server."""

from __future__ import annotations

import threading

from otel_resilience import ResponseCache
from otel_resilience.store import RedisStateStore
from tests import store_support
from tests.store_support import until

redis_server = store_support.redis_server


def test_renewer_waits_a_period_before_its_first_renewal(redis_server):
    """A lock just taken has a full lease: the renewer's new thread first waits lease/3, then
    renews (it renewed at once: a wasted round trip, which a thread delayed under load sent
    after the call had ended, making test_l1_hit_makes_no_round_trip[async] flaky)."""
    store = RedisStateStore(redis_server.url, prefix="t", sync_interval=60)
    l2 = ResponseCache(name="r", store=store, lock_lease=3.0)._l2
    assert l2 is not None
    steps: list[str] = []
    later = threading.Event()  # never set: later waits last their timeout, as in production

    class Wake:
        def wait(self, timeout: float) -> bool:
            steps.append(f"wait {timeout}")
            return len(steps) > 1 and later.wait(timeout)

    l2._renewer.wake = Wake()  # type: ignore[assignment]
    l2.renew = lambda held: steps.append(f"renew {len(held)}")  # type: ignore[method-assign]
    lease = l2.obtain("d")  # takes the lock, which starts the renewer's thread
    assert lease.fence == 1
    until(lambda: len(steps) >= 2, "the renewer's first two steps")
    assert steps[:2] == ["wait 1.0", "renew 1"]
    l2.settle(lease)
    store.close()
