"""What the worker reports about a step is capped on the host: the output count model code can overwrite
(``sys.stdout.total``, reachable with the guards on) must not push the observation past ``output_chars``, and a
tool name sent on the raw channel must not grow the step's tool-call record."""

from __future__ import annotations

import json

from agentdistill.sandbox import Sandbox

from .conftest import FAST

S = "import collections\nS = collections._sys\n"


def _search(q: str = "") -> str:
    return "passages"


def test_a_forged_output_count_keeps_the_observation_in_budget():
    with Sandbox(config=FAST) as sb:
        for total in ("10**4000", "-5", "True"):
            r = sb.run(S + f"S.stdout.total = {total}\nprint('x' * 5000)")
            assert r.error is None, r.observation
            assert len(r.observation) <= FAST.output_chars + 60, (total, len(r.observation))
            assert r.observation.startswith("x" * 100) and "truncated" in r.observation


def test_a_long_tool_name_on_the_raw_channel_is_cut_in_the_record():
    call = json.dumps({"op": "call", "name": "n" * 300_000, "args": [], "kwargs": {}})
    code = (
        f"d = {call!r}.encode()\nsearch.chan.sock.sendall(len(d).to_bytes(4, 'big') + d)\n"
        "import json\nprint(search.chan.sock.recv(300)[4:60])"
    )
    with Sandbox(tools={"search": _search}, config=FAST) as sb:
        r = sb.run(code)
        assert "NameError" in r.stdout, r.observation
        assert len(r.tool_calls) == 1 and len(json.dumps(r.tool_calls)) < 1000, len(json.dumps(r.tool_calls))
