"""Stop a batch run whose model endpoint is down, instead of failing every remaining task one by one.

`UnreachableBreaker` watches the records a batch writes (`generate`, `eval`). The rule: when ``limit`` (3)
attempts in a row, in the order they are written, failed because no endpoint accepted a connection (an
:class:`~agentdistill.llm.types.EndpointUnreachableError`: refused, unknown host, connect timeout) and a fresh
check of the endpoint still finds none, the run stops with one error naming the endpoint. A mistyped or dead
endpoint is therefore noticed after 3 attempts, at the start or at any point of a run; a short outage that
is over by the check only costs those attempts (recorded as failures, retried by the next run). Any other
result resets the count: HTTP errors, timeouts after connecting and malformed replies reach a server, and
wrong answers are answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentdistill.llm.types import EndpointUnreachableError, is_unreachable_failure

STREAK_LIMIT = 3


def check_reachable(llm: Any) -> None:
    """Raise EndpointUnreachableError when ``llm``'s endpoints accept no connection (backends with a
    ``check_reachable`` method: the HTTP ones); in-process backends have nothing to check."""
    check = getattr(llm, "check_reachable", None)
    if callable(check):
        check()


class UnreachableBreaker:
    """Called with each record a batch writes (``run_batch(after_write=...)``); raises to stop the batch.

    ``failure_of(record)`` is the record's failure text (``"ExcType: message"``) or None; ``recheck()`` raises
    EndpointUnreachableError while the endpoint is still down (e.g. ``lambda: check_reachable(llm)``);
    ``where`` names the output in the message.
    """

    def __init__(
        self,
        failure_of: Callable[[dict[str, Any]], str | None],
        recheck: Callable[[], None],
        where: str,
        limit: int = STREAK_LIMIT,
    ) -> None:
        self.failure_of, self.recheck, self.where, self.limit = failure_of, recheck, where, limit
        self.streak = 0

    def __call__(self, record: dict[str, Any]) -> None:
        """Count ``record``; raises EndpointUnreachableError when the run should stop (see the module rule)."""
        if not is_unreachable_failure(self.failure_of(record)):
            self.streak = 0
            return
        self.streak += 1
        if self.streak < self.limit:
            return
        try:
            self.recheck()
        except EndpointUnreachableError as exc:
            raise EndpointUnreachableError(
                f"stopped: the model endpoint is unreachable ({self.limit} attempts in a row could not connect, "
                f"and a check just now could not either): {exc}. The records written so far stay in "
                f"{self.where}; re-run the same command to resume"
            ) from None
        self.streak = 0
