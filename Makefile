# The two commands of the README. Both set up .venv (idempotent) and train the Rasa model when
# it is missing or stale.
.PHONY: up test setup train lint screenshots

setup:
	@bash scripts/setup.sh

train: setup
	@.venv/bin/nghedan train --if-stale

up: train
	@.venv/bin/nghedan up

test: train
	@bash scripts/test.sh

lint: setup
	@.venv/bin/ruff check bot actions tests bench

# Screenshots of the desk, the dashboard and the public board (docs/screenshots/), taken by the
# browser tests' own Chromium.
screenshots: setup
	@SCREENSHOTS_DIR=docs/screenshots .venv/bin/python -m pytest -q \
	  tests/test_desk_browser.py tests/test_dashboard_browser.py tests/test_public_browser.py \
	  -k screenshots
