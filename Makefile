# Thin aliases over scripts/; every target sets itself up first.
.PHONY: run test check bench bootstrap clean

run:
	./scripts/run

test:
	./scripts/test

check:
	./scripts/check

bench:
	./scripts/bench

bootstrap:
	./scripts/bootstrap

clean:
	rm -rf .venv .matinee .pytest_cache .mypy_cache .ruff_cache
