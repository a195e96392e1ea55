# Two commands set everything up on a fresh machine:
#   make demo   installs everything and runs the offline round demo (the main job)
#   make test   installs everything (Docker engine, sandbox image included) and runs the test suite
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export OMP_NUM_THREADS ?= 1
export RAY_AUTH_MODE := disabled
export TOKENIZERS_PARALLELISM := false

.PHONY: setup system-deps python-deps sandbox test demo demo-tir bench clean

setup: system-deps python-deps

system-deps:
	bash scripts/install_system_deps.sh

$(BIN)/python:
	$(PY) -m venv $(VENV)

python-deps: $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,ray,embeddings]"

sandbox: setup
	bash scripts/start_dockerd.sh
	$(BIN)/synthgen sandbox build

test: sandbox
	$(BIN)/python -m pytest -q -ra tests

demo: python-deps
	$(BIN)/synthgen round examples/demo_round.yaml

# tool use vs written computation on 3x2-digit products; runs code in Docker (bubblewrap without it)
demo-tir: python-deps
	$(BIN)/synthgen round examples/demo_round_tir.yaml

bench: sandbox
	for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs
