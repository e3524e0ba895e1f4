# Two commands on a fresh machine: `make demo` (end-to-end distillation on the embedded models)
# and `make test`. Both install into ./.venv first; pip caches wheels (llama-cpp-python's build too).
VENV ?= .venv
PY := $(VENV)/bin/python
# llama-cpp-python's native build crashes in the AMX path on these CPUs (DESIGN.md §6).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: install demo test lint bench server
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip wheel
	$(PY) -m pip install -e '.[all]'
	touch $@

demo: install
	$(VENV)/bin/agentdistill pipeline demo

# llama-server + llama-batched-bench from the pinned llama.cpp sources, built once per machine into the cache
# (agentdistill.models.server; tests/models/test_server.py runs the real server)
server: install
	$(PY) -m agentdistill.models.server

test: install server
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/pytest -q

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts

