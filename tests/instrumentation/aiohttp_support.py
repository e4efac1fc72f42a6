"""Requests with a real aiohttp ClientSession, driven from sync test bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")

#: A broken test fails instead of hanging; never reached normally.
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run ``make()`` in a fresh event loop."""

    async def go() -> T:
        return await make()

    return asyncio.run(go())


def fetch(method: str, url: str, **kwargs: Any) -> tuple[aiohttp.ClientResponse, bytes]:
    """One request on a fresh session: the response and its body, read."""

    async def go() -> tuple[aiohttp.ClientResponse, bytes]:
        async with (
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session,
            session.request(method, url, **kwargs) as response,
        ):
            return response, await response.read()

    return run(go)


def status(method: str, url: str, **kwargs: Any) -> int:
    """The status of one request on a fresh session (body read)."""
    return fetch(method, url, **kwargs)[0].status
