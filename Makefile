# Herald: `make run` runs it end to end on this machine; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

# The virtualenv is (re)built whenever a pinned requirement changes.
# The project itself is installed editable, which puts the `herald` command on the venv's PATH.
$(STAMP): src/requirements.txt requirements-cli.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/herald local demo

# The template's own checkers live in virtualenvs of their own: each pins a boto3 of its own.
.venv-sam/.installed: tools/requirements-sam.txt
	test -x .venv-sam/bin/python || $(PYTHON) -m venv .venv-sam
	.venv-sam/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-sam.txt
	touch $@

.venv-checkov/.installed: tools/requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check -r tools/requirements-checkov.txt
	touch $@

lint: $(STAMP) .venv-sam/.installed .venv-checkov/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src herald
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .venv-sam/bin/sam validate --lint -t template.yaml
	.venv-checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov .mypy_cache .ruff_cache
