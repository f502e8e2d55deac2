# Push & Pay — the two commands a newcomer needs: `make run` and `make test`.
# Production: `make serve` (docs/operations.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DEBUG ?= true
export PYTHONDONTWRITEBYTECODE := 1
# pip's notices (a newer pip exists, running as root) are not this project's steps, nor are
# its warnings about the machine's own pip configuration (an index folder that is missing):
# installs run with -qq, which still prints every error.
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_ROOT_USER_ACTION := ignore
# The project runs from its checkout, so only its dependencies are installed (read from
# pyproject.toml): building the project itself as an editable wheel adds nothing but the
# build backend's warnings.
DEPENDENCIES = $(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))'

.PHONY: run serve test lint format install clean bench

$(BIN)/python:
	@echo "==> Creating the virtualenv in $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> Installing dependencies"
	@$(DEPENDENCIES) | $(BIN)/python -m pip install -qq -r /dev/stdin
	@touch $@

install: $(VENV)/.installed

run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# Webhooks to a receiver on this machine (http, loopback); settings refuse it without DEBUG.
run: export WEBHOOK_ALLOW_PRIVATE_TARGETS ?= true
run: install
	@echo "==> Applying migrations"
	@LOG_LEVEL=WARNING $(BIN)/python manage.py migrate --noinput -v0
	@echo "==> Seeding the demo merchant"
	@LOG_LEVEL=WARNING $(BIN)/python manage.py seed_demo
	@echo "==> Installing schedules"
	@LOG_LEVEL=WARNING $(BIN)/python manage.py install_schedules > /dev/null
	@echo "==> Starting the web server and one q cluster (Ctrl-C stops both)"
	@echo ""
	@echo "  Back office:  http://127.0.0.1:$(PORT)/app/"
	@echo "  API docs:     http://127.0.0.1:$(PORT)/api/v1/docs/"
	@echo "  Admin:        http://127.0.0.1:$(PORT)/admin/ (superusers only)"
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/python manage.py qcluster & \
	  $(BIN)/python manage.py runserver 127.0.0.1:$(PORT) --noreload

# Production web process: collectstatic, migrations check, gunicorn (WEB_CONCURRENCY workers).
# Workers run apart: `$(BIN)/python manage.py qcluster`, as many as wanted, anywhere.
serve: export DEBUG := false
serve: install
	@$(BIN)/python manage.py serve $(SERVE_ARGS)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run -v0
	DJANGO_SETTINGS_MODULE=pushpay.test_settings $(BIN)/pytest $(PYTEST_ARGS)

# Every benchmark in bench/, each against its own baseline measured in the same run, figures
# appended to docs/benchmarks.md. PostgreSQL (BENCH_DATABASE_URL's server) and wrk needed.
bench: install
	$(BIN)/python bench/http_load.py
	$(BIN)/python bench/profile_hot_paths.py
	$(BIN)/python bench/api_create.py --write
	$(BIN)/python bench/dispatch_throughput.py --count $(or $(BENCH_COUNT),20000)
	$(BIN)/python bench/checkout_legs.py --write
	$(BIN)/python bench/dashboard.py --write

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/*.sqlite3* var/mail
