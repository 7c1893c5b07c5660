# regauth developer and user commands.  `make demo` and `make test` work on a fresh Debian 12 as root.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := docker-registry golang-docker-credential-helpers pass gnupg gnome-keyring dbus \
	dbus-user-session libsecret-tools libglib2.0-bin skopeo podman apache2-utils openssl curl zsh fish python3-venv \
	nodejs

.PHONY: help apt venv install lint test test-fast test-pythons demo fuzz reliability-report bench clean

help:
	@echo "make demo                - install regauth, log in/out of a throwaway local registry"
	@echo "make test                - install what the tests need, run ruff, mypy --strict and pytest"
	@echo "make test-pythons        - the unit and integration tests on the other CPythons (OTHER_PYTHONS)"
	@echo "make reliability-report  - run the reliability suite and print regauth vs Docker figures"
	@echo "make bench               - benchmarks against Docker CLI and the Go helpers"
	@echo "make fuzz                - a long fuzzing campaign (FUZZ_SECONDS, default 600)"

apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else echo "skipping apt (not root or no apt-get): install $(APT_PACKAGES) yourself"; fi

$(BIN)/python:
	$(PY) -m venv $(VENV)

venv: $(BIN)/python
	$(BIN)/pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/pip install -q -e '.[test]'

install: apt venv

lint: venv
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/mypy

test: install lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -p no:cacheprovider tests

# The other interpreters the suite must pass on: pyenv's CPythons by default, or a list of interpreter paths.
OTHER_PYTHONS ?= $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3 $(HOME)/.pyenv/versions/3.13.*/bin/python3)
# Everything but the reliability campaigns and the bench smoke test, which the default interpreter runs.
PORTABLE_TESTS := tests --ignore=tests/reliability --ignore=tests/test_bench_smoke.py

test-pythons: apt
	@if [ -z "$(strip $(OTHER_PYTHONS))" ]; then \
		echo "no other CPython found (set OTHER_PYTHONS)"; [ "$$CI" != true ]; exit $$?; fi
	@set -e; for py in $(OTHER_PYTHONS); do \
		ver=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); venv=.venv-$$ver; \
		echo "== CPython $$ver ($$py)"; \
		[ -x $$venv/bin/python ] || $$py -m venv $$venv; \
		$$venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true; \
		$$venv/bin/pip install -q -e '.[test]'; \
		PATH="$(CURDIR)/$$venv/bin:$$PATH" $$venv/bin/pytest -q -p no:cacheprovider $(PORTABLE_TESTS); \
	done

test-fast: 
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -x tests

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.support.demo

reliability-report: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.reliability.report

# regauth as a user installs it: a regular install on the system's Python (Debian's python3 here);
# BENCH_PYTHON= (empty) benchmarks the development venv instead.
BENCH_PYTHON ?= $(firstword $(wildcard /usr/bin/python3))

bench: install
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m compileall -q src/regauth
	PATH="$(CURDIR)/$(BIN):$$PATH" env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m bench \
		$(if $(BENCH_PYTHON),--python $(BENCH_PYTHON)) $(BENCH_ARGS)

fuzz: install
	$(BIN)/pip install -q -e ".[test,fuzz]"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m fuzz --seconds $${FUZZ_SECONDS:-600}

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
