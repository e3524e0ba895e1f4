"""Stop-string search on decoded text, shared by the in-process backends."""

from __future__ import annotations


def find_stop(text: str, stops: tuple[str, ...] | list[str], start: int = 0) -> tuple[int, str] | None:
    """Earliest ``(index, stop)`` of any stop string in ``text`` that ends after ``start``.

    ``start`` is how much of ``text`` was already checked, so each new token costs only a short scan.
    """
    best: tuple[int, str] | None = None
    for s in stops:
        if not s:
            continue
        i = text.find(s, max(0, start - len(s) + 1))
        if i >= 0 and (best is None or i < best[0]):
            best = (i, s)
    return best


def truncate_at_stop(text: str, stops: tuple[str, ...] | list[str]) -> tuple[str, str | None]:
    """Cut ``text`` at the earliest stop string; return the kept text and the stop found (or None)."""
    hit = find_stop(text, stops)
    if hit is None:
        return text, None
    return text[: hit[0]], hit[1]
