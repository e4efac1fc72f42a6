"""Fingerprints of exceptions: type, normalised frames of the user's code, message template."""

from __future__ import annotations

import hashlib
import linecache
import os
import re
import sys
import sysconfig
from functools import lru_cache

__all__ = ["fingerprint", "message_template", "type_name"]

#: Characters of a message that are templated; the rest never changes the fingerprint.
_MESSAGE_MAX = 512
# One pass, most specific alternative first: a UUID or a hex id must not become "<id>-<id>".
_MASK = re.compile(
    r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<hex>\b0x[0-9a-fA-F]+\b)"
    r"|(?P<email>[\w.+%-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<n>\b\d+(?:\.\d+)?\b)"
    # Any other word holding a digit is an identifier (user42, req_9f8a7b, a1b2c3d4).
    r"|(?P<id>\b\w*\d\w*\b)"
)
_HAS_MASKABLE = re.compile(r"[\d@]").search


def _mask(match: re.Match[str]) -> str:
    return f"<{match.lastgroup}>"


def message_template(message: str) -> str:
    """``message`` with numbers, UUIDs, hex and other ids and e-mail addresses masked."""
    text = message[:_MESSAGE_MAX]
    return _MASK.sub(_mask, text) if _HAS_MASKABLE(text) else text


def type_name(exc: BaseException) -> str:
    """``module.QualName`` of the exception's class (builtins without a module)."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # otel_resilience
    return tuple(sorted(os.path.normcase(r) + os.sep for r in roots if r))


_LIBRARY = _library_roots()


@lru_cache(maxsize=4096)
def _frame_key(filename: str, name: str, lineno: int) -> str:
    """How one frame enters the fingerprint: library frames without a position at all."""
    path = os.path.normcase(os.path.abspath(filename)) if not filename.startswith("<") else filename
    if path.startswith(_LIBRARY) or "site-packages" in path or "dist-packages" in path:
        return f"lib:{os.path.basename(path)}:{name}"
    # User code: the path below its sys.path entry (same on every machine), the function and
    # the source text of the line (stable when code above it moves), else its number.
    for entry in sys.path:
        root = os.path.normcase(os.path.abspath(entry or ".")) + os.sep
        if path.startswith(root):
            path = path[len(root) :]
            break
    line = linecache.getline(filename, lineno).strip()
    return f"{path}:{name}:{line or lineno}"


#: Frames of one traceback that enter the fingerprint (the innermost ones).
_MAX_FRAMES = 32


def frame_keys(exc: BaseException) -> list[str]:
    """The normalised frames of ``exc``'s traceback, outermost first."""
    # Walked by hand: traceback.extract_tb also computes column positions, many times the cost.
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append((code.co_filename, getattr(code, "co_qualname", code.co_name), tb.tb_lineno))
        tb = tb.tb_next
    return [_frame_key(f, n, line) for f, n, line in frames[-_MAX_FRAMES:]]


def fingerprint(exc: BaseException, template: str) -> str:
    """A 16-hex-digit digest of the exception type, its frames and its message template."""
    digest = hashlib.sha256(type_name(exc).encode())
    for key in frame_keys(exc):
        digest.update(b"\0" + key.encode("utf-8", "replace"))
    digest.update(b"\1" + template.encode("utf-8", "replace"))
    return digest.hexdigest()[:16]
