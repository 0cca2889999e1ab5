.PHONY: check serve bench
check:
	./scripts/check
serve:
	./scripts/serve
bench:
	.venv/bin/python bench/load.py
