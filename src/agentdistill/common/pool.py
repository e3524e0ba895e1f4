"""Run a function over items with bounded concurrency, handing results back in order to one writer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_ordered(items: Iterable[T], fn: Callable[[T], R], finish: Callable[[R], None], workers: int = 1) -> None:
    """``finish(fn(item))`` for each item, in input order; ``workers > 1`` keeps that many calls in flight.

    Results are finished in order so a resumed run's file reads the same as an uninterrupted one.
    """
    if workers <= 1:
        for item in items:
            finish(fn(item))
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(fn, items):
            finish(result)
