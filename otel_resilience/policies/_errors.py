"""The error every invalid policies file raises: a ValueError naming the file and the TOML key."""

from __future__ import annotations

__all__ = ["PolicyError"]


class PolicyError(ValueError):
    """Invalid policies: ``key`` is the TOML path (``pipelines.payments.strategies[0].retry``).

    ``str()`` reads ``"policies.toml: pipelines.payments.strategies[0].retry.max_attempts:
    max_attempts must be an integer >= 1, got 0"``: the constructor's own message, prefixed with
    where the value came from.
    """

    def __init__(self, key: str, reason: str, file: str | None = None) -> None:
        self.key = key
        self.reason = reason
        self.file = file
        where = ": ".join(p for p in (file, key) if p)
        super().__init__(f"{where}: {reason}" if where else reason)

    def in_file(self, file: str) -> PolicyError:
        """The same error, naming ``file``."""
        return PolicyError(self.key, self.reason, file)
