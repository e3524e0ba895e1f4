# Two commands on a fresh machine: `make demo` (end-to-end distillation on the embedded models)
# and `make test`. Both install into ./.venv first; pip caches wheels (llama-cpp-python's build too).
VENV ?= .venv
PY := $(VENV)/bin/python
# llama-cpp-python's native build crashes in the AMX path on these CPUs (DESIGN.md §6).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: install demo study test lint bench server
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip wheel
	$(PY) -m pip install -e '.[all]'
	touch $@

demo: install
	$(VENV)/bin/agentdistill pipeline demo

# The study (issue 17, results/study/README.md): hours of CPU, every stage resumable — run it again to go on.
# The main rows, then the first-thought-prefix arm, then one report over both that leads with the paired tests.
STUDY_COMPARE := --compare "Student agent-distilled vs Student CoT-distilled" \
	--compare "Student agent-distilled + SAG vs Student agent-distilled" \
	--compare "Student agent-distilled vs Student CoT-distilled + RAG" \
	--compare "Student agent-distilled vs Student agent (before)" \
	--compare "Student CoT-distilled vs Student CoT (before)" \
	--compare "Student agent-distilled (FTP) vs Student agent-distilled" \
	--compare "Student agent-distilled (FTP) + SAG vs Student CoT-distilled"
study: install
	$(VENV)/bin/agentdistill pipeline study
	$(VENV)/bin/agentdistill pipeline study-ftp
	$(VENV)/bin/agentdistill report runs/study/eval runs/study-ftp/eval --out runs/study/report \
		--title "Study: CoT vs agent distillation, Qwen2.5-Coder-1.5B → 0.5B (CPU)" $(STUDY_COMPARE)

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

