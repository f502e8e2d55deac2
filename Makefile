# Push & Pay — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DEBUG ?= true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint format install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# Webhooks to a receiver on this machine (http, loopback); settings refuse it without DEBUG.
run: export WEBHOOK_ALLOW_PRIVATE_TARGETS ?= true
run: install
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py install_schedules
	@echo ""
	@echo "  Back office:  http://127.0.0.1:$(PORT)/app/"
	@echo "  API docs:     http://127.0.0.1:$(PORT)/api/v1/docs/"
	@echo "  Admin:        http://127.0.0.1:$(PORT)/admin/ (superusers only)"
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/python manage.py qcluster & \
	  $(BIN)/python manage.py runserver 127.0.0.1:$(PORT) --noreload

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run -v0
	DJANGO_SETTINGS_MODULE=pushpay.test_settings $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/*.sqlite3* var/mail
