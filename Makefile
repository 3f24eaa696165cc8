# The commands of README.md. Everything installs into .venv from pinned versions.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := -e libs/crm_common -e services/clients -e services/deals -e services/activities \
            -e services/ares -e services/importer -e gateway
FAKE := $(if $(filter fake,$(ARES)),--fake-ares,)

.PHONY: install run up down test smoke bench fault-report broker database wrk clean

$(VENV)/.installed: constraints.txt requirements-dev.txt libs/crm_common/pyproject.toml \
                    $(wildcard services/*/pyproject.toml) gateway/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt $(PACKAGES)
	touch $@

install: $(VENV)/.installed

broker:
	@scripts/ensure-broker.sh

database:
	@scripts/ensure-postgres.sh

# the HTTP load generator of the bench's gateway phase; without it that phase fails and
# the others still run
wrk:
	-@scripts/ensure-wrk.sh

run: install broker
	$(BIN)/python -m crm_common.stack run $(FAKE)

up: install broker
	$(BIN)/python -m crm_common.stack up $(FAKE)

down:
	$(BIN)/python -m crm_common.stack down

# Test files spread over TEST_WORKERS processes (each its own RabbitMQ vhost, databases and
# stacks; a file's tests stay together: they share its stack), except the schemathesis run,
# whose operations are shared out over all of them (a stack each: `spread`, see
# crm_common.testing). Then the fault scenarios (they kill brokers, databases and services
# and time the system under stress), never under the first stage's load: on FAULT_WORKERS
# processes, a file each (its own stack, vhost and databases; private nodes where it kills
# them). `make fault-report` runs them in one process.
TEST_WORKERS ?= 2
FAULT_WORKERS ?= 2
test: install broker database
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --ignore=tests/fault --ignore=tests/smoke
	$(BIN)/pytest -n $(FAULT_WORKERS) --dist loadgroup tests/fault

# every image built and the compose stack run for real (tests/smoke): on a Docker host with
# compose; without a Docker engine (these machines) through podman's Docker API, base images
# from Debian's packages (scripts/smoke.sh). CI runs it after `make test`.
smoke: install
	scripts/smoke.sh

# every path next to its raw py-amqp floor, the gateway under HTTP load (wrk) next to
# gunicorn serving a static answer, and a million generated clients read through the
# gateway next to the same SQL; QUICK=1 for a short run; PHASES=scale (comma-separated,
# see bench/settings.py) for some phases only; writes docs/benchmarks.md and
# var/bench/results.json
bench: install broker database wrk
	BENCH_QUICK=$(QUICK) BENCH_PHASES=$(PHASES) \
	BENCH_COMMAND="make bench$(if $(QUICK), QUICK=$(QUICK),)$(if $(PHASES), PHASES=$(PHASES),)" \
	$(BIN)/python -m bench

# the fault suite with a longer stream per scenario; writes docs/reliability.md (also when a
# scenario fails: the report says which check failed and by how much)
FAULT_CLIENTS ?= 1000
fault-report: install broker database
	CRM_FAULT_REPORT=docs/reliability.md CRM_FAULT_COMMAND="make fault-report" \
	FAULT_CLIENTS=$(FAULT_CLIENTS) $(BIN)/pytest tests/fault -m fault -q --timeout=1200

clean:
	rm -rf $(VENV) var
