# Thin wrappers; the work is in scripts/bootstrap.sh and the gridmap CLI.
.PHONY: setup demo test bench lint

HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

setup:
	scripts/bootstrap.sh

demo: setup
	.venv/bin/gridmap demo --host $(HOST) --port $(PORT)

# `make setup`'s work plus the tools the tests drive (chromium, gdal-bin, a CJK font).
test:
	scripts/bootstrap.sh --test
	.venv/bin/python -m pytest $(PYTEST_ARGS)

bench:
	scripts/bootstrap.sh --bench
	.venv/bin/python bench/run_all.py

lint:
	.venv/bin/ruff check gridmap api tests bench
