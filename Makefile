# The two commands of the README. Both set up .venv (idempotent) and train the Rasa model when
# it is missing or stale.
.PHONY: up test setup train lint

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
