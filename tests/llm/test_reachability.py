"""The batch breaker's rule (llm/reachability.py): 3 unreachable attempts in a row, confirmed by a fresh check,
stop a run; anything else between them, or an endpoint back by the check, lets it go on."""

from __future__ import annotations

import pytest

from agentdistill.llm.reachability import UnreachableBreaker, check_reachable
from agentdistill.llm.types import EndpointUnreachableError, is_unreachable_failure

DOWN = {"failure": "EndpointUnreachableError: no answer from http://h:1/v1 after 4 attempts"}
REJECTED = {"failure": "GenerationError: request rejected by http://h:1/v1 (HTTP 404)"}
ANSWERED = {"failure": None}


class Endpoint:
    """What ``recheck`` sees: up or down, and how often it was asked."""

    def __init__(self, up: bool) -> None:
        self.up, self.checks = up, 0

    def check(self) -> None:
        self.checks += 1
        if not self.up:
            raise EndpointUnreachableError("no answer from http://h:1/v1 after 4 attempts")


def _breaker(endpoint: Endpoint) -> UnreachableBreaker:
    return UnreachableBreaker(lambda r: r["failure"], endpoint.check, "out.jsonl")


def test_three_in_a_row_still_down_stop_the_run_naming_endpoint_and_output() -> None:
    endpoint = Endpoint(up=False)
    breaker = _breaker(endpoint)
    breaker(DOWN)
    breaker(DOWN)
    with pytest.raises(
        EndpointUnreachableError, match=r"3 attempts in a row.*http://h:1/v1.*stay in out.jsonl"
    ):
        breaker(DOWN)
    assert endpoint.checks == 1


def test_other_records_break_the_streak() -> None:
    endpoint = Endpoint(up=False)
    breaker = _breaker(endpoint)
    for record in (DOWN, DOWN, REJECTED, DOWN, DOWN, ANSWERED, DOWN, DOWN):
        breaker(record)
    assert endpoint.checks == 0 and breaker.streak == 2


def test_an_endpoint_back_by_the_check_lets_the_run_go_on() -> None:
    endpoint = Endpoint(up=True)
    breaker = _breaker(endpoint)
    for _ in range(5):
        breaker(DOWN)
    assert endpoint.checks == 1 and breaker.streak == 2  # checked at the 3rd, counting again since


def test_failure_text_and_backends_without_endpoints() -> None:
    assert is_unreachable_failure(DOWN["failure"])
    assert not is_unreachable_failure(REJECTED["failure"]) and not is_unreachable_failure(None)
    check_reachable(object())  # an in-process backend: nothing to check
