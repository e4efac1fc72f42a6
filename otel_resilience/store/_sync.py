"""One sync round of a RedisStateStore: O(1) round trips when its breakers are idle.

A round sends only the links with something to send (counts, a local decision, a budget, a
breaker never synced) and, in the same pipeline, reads the fleet's version and its change log
(``prefix:cb:fleet``, ``prefix:cb:log``: every transition script bumps the one and records the
breaker's name in the other). An idle round is therefore one round trip of two commands, at 10
or at 5,000 breakers. When the version moved, a second round trip reads the state of the
breakers named in the log that this process links; when the log cannot tell (Redis restarted
or flushed, the version expired, the log dropped names this process had not seen, or an
earlier round failed) it reads every linked breaker once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_resilience.store._link import BreakerLink

if TYPE_CHECKING:
    from otel_resilience.store._budget_link import BudgetLink
    from otel_resilience.store.redis_store import RedisStateStore

    Link = BreakerLink | BudgetLink

__all__ = ["FleetWatch", "key_error", "sync_round"]


class FleetWatch:
    """The fleet version this store has caught up with (None: read every breaker next)."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: int | None = None


def sync_round(store: RedisStateStore, links: list[Link], watch: FleetWatch) -> None:
    """Send what the links hold, learn which breakers moved in the fleet, apply their state."""
    breakers = [link for link in links if type(link) is BreakerLink]
    seen = watch.seen
    if seen is None:  # first round, or catching up: every breaker sends (a state read at least)
        sent = [(link, args) for link in links for args in link.batch()]
    else:
        sent = [(link, args) for link in links if link.dirty() for args in link.batch()]
    if not breakers:
        if sent:
            _send(store, sent)
        return
    fleet = breakers[0].keys[4:]
    head = _send(store, sent, fleet, seen)
    news = None if head is None else _news(store, head)
    watch.seen = None if news is None else news[0]
    if news is None or seen is None or news[0] == seen:
        return
    ver, floor, names = news
    done = {id(link) for link, _ in sent}
    if ver < seen or floor > seen:  # the log cannot tell what moved since `seen`: read all
        todo = [link for link in breakers if id(link) not in done]
    else:
        todo = [link for link in breakers if link.name in names and id(link) not in done]
    if todo and _send(store, [(link, args) for link in todo for args in link.batch()]) is None:
        watch.seen = None


def _news(store: RedisStateStore, head: list[Any]) -> tuple[int, int, set[str]] | None:
    """``(ver, floor, names moved)`` from the replies of HMGET (and ZRANGEBYSCORE); None when
    the fleet's keys hold someone else's values (then every breaker is read: the old way)."""
    for reply in head:
        if isinstance(reply, Exception):
            store.health.key_error(reply, "sync")
            return None
    ver, floor = (int(x or 0) for x in head[0])
    names = {n.decode() if isinstance(n, bytes) else n for n in head[1]} if head[1:] else set()
    return ver, floor, names


def _send(
    store: RedisStateStore,
    sent: list[tuple[Link, list[Any]]],
    fleet: tuple[str, ...] | None = None,
    seen: int | None = None,
) -> list[Any] | None:
    """One pipeline: the fleet's version and log (if ``fleet``), then the links' scripts,
    whose answers are applied. Answers the fleet's replies ([] without ``fleet``), or None
    when Redis did not answer (the links keep their decisions for the next round)."""
    first = 0 if fleet is None else 1 if seen is None else 2

    def send(client: Any, scripts: dict[str, Any]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        if fleet is not None:  # first: a transition after this read is seen next round
            pipe.hmget(fleet[0], "ver", "floor")
            if seen is not None:
                pipe.zrangebyscore(fleet[1], f"({seen}", "+inf")
        for link, args in sent:
            scripts[link.script](keys=link.keys, args=args, client=pipe)
        # One corrupted key must not stop the others: its error stays in its place.
        answers = list(pipe.execute(raise_on_error=False))
        for answer in answers:
            if isinstance(answer, Exception) and not key_error(answer):
                raise answer  # the server refuses everything: fail open
        return answers

    # While backing off, run() answers None at once: counts are folded in locally.
    replies = store.run("sync", send)
    if replies is None:
        for link, args in sent:
            link.requeue([args])
        return None
    now = store._clock.monotonic()
    for (link, args), reply in zip(sent, replies[first:], strict=True):
        if isinstance(reply, Exception):
            link.requeue([args])
            store.health.key_error(reply, "sync")
        else:
            link.apply(reply, now)
    return replies[:first]


#: Errors that refuse every command, not one key's data.
_SERVER_WIDE = ("READONLY", "OOM", "NOPERM", "MASTERDOWN", "MISCONF", "BUSY", "LOADING", "CLUSTER")


def key_error(exc: BaseException) -> bool:
    """Whether Redis refused the command for its key's data: a wrong type, or a script error on
    what it read (someone else's value under our prefix). Other errors mean the server is
    unusable for now."""
    from redis.exceptions import ResponseError

    if not isinstance(exc, ResponseError):
        return False
    text = str(exc)
    if any(word in text for word in _SERVER_WIDE):
        return False
    return text.startswith(("WRONGTYPE", "user_script:", "ERR user_script", "ERR Error running"))
