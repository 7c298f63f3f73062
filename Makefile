# make demo | make test | make lab | make docs — each sets itself up on first use (Python 3.11 + pip only).
# make gpu-check: the GPU checks and benchmarks in ≤ 8 min on one GPU -> results/gpu/gpu_check.{json,md}
#   (make gpu-check SMOKE=1: the same script at tiny sizes, any machine, < 1 min -> results/gpu_smoke/)
# GPU users: make TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
TORCH  ?= torch==2.13.0
VENV   := .venv
PY     := $(VENV)/bin/python
# The stamp is keyed on pyproject.toml's content and the torch spec: a second run installs nothing.
KEY    := $(shell cat pyproject.toml | sha1sum | cut -c1-12)-$(shell echo '$(TORCH)' | sha1sum | cut -c1-8)
STAMP  := $(VENV)/.installed-$(KEY)
export MPLBACKEND := Agg

.PHONY: setup demo test lab student docs gpu-check clean

setup: $(STAMP)

$(STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(PY) -m nint_lite compare --input camera --size 128 --model siren \
		--samplers full,nint --steps 300 --target-psnr 25 --eval-every 25 --out results

# tests/test_docs.py runs `make docs` and opens every page in headless Chromium (skipped without
# /usr/bin/chromium unless CI=true; .ci/run installs it)
test: $(STAMP)
	$(PY) -m pytest -q tests notebooks --nbval-lax --nbval-current-env --ignore=notebooks/student

# The documentation site from the committed notebooks (not re-run), README, results and docstrings
# (sources: notebooks/conf.py and notebooks/*.md); warnings are errors. -E: the API page and the
# README's pages are generated, so every build reads everything again. The last line printed is
# the built index.html. MathJax and the widget manager come from npm once (notebooks/_build/jscache).
DOCS := notebooks/_build/html
docs: $(STAMP)
	$(PY) -m sphinx -E -W --keep-going -q -b html notebooks $(DOCS)
	@echo $(abspath $(DOCS))/index.html

# nint_lite/lab/gpu_check.py: tests/test_gpu.py, notebooks 01–05, the paper's protocol, bench ntk,
# NINT at scale, a distributed fit; skips what its 450 s budget cannot fit
gpu-check: $(STAMP)
	$(PY) -m nint_lite.lab.gpu_check $(if $(SMOKE),--smoke,)

# nbgrader metadata on notebooks/*.ipynb; student copies (solutions -> stubs, outputs cleared) and nint_by_hand.py
student: $(STAMP)
	$(PY) -m nint_lite.classroom notebooks notebooks/student

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/00_start_here.ipynb

clean:
	rm -rf $(VENV) results .pytest_cache notebooks/_build
