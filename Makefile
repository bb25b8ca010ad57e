# liveai: `make run` sets everything up and runs the show; `make test` sets up and runs the tests.
.PHONY: setup run test lint bench clean

ARGS ?=

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/liveai run $(ARGS)

test:
	@scripts/setup.sh --test
	@scripts/test.sh

lint: setup
	.venv/bin/ruff check liveai tests
	.venv/bin/lint-imports

bench: setup
	.venv/bin/liveai bench audio $(ARGS)

clean:
	rm -rf .venv .pytest_cache build *.egg-info
