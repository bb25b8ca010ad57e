# liveai: `make run` sets everything up and runs the show; `make test` sets up and runs the tests.
.PHONY: setup run test lint bench bench-setup bench-madmom clean

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

# aubio and mir_eval for `liveai bench analysis` (aubio needs gcc and the Python headers)
bench-setup: setup
	.venv/bin/python -m pip install -q -e '.[test,bench]'
	.venv/bin/liveai bench analysis $(ARGS)

# the same, with madmom's online beat tracker beside (its own virtualenv: it needs numpy < 1.24)
bench-madmom: setup
	.venv/bin/python -m pip install -q -e '.[test,bench]'
	scripts/setup_madmom.sh .cache/madmom-venv
	.venv/bin/liveai bench analysis --madmom .cache/madmom-venv/bin/python $(ARGS)

clean:
	rm -rf .venv .pytest_cache build *.egg-info
