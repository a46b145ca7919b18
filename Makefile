# Thin wrappers: each target is a script in scripts/ that installs what it needs first.
.PHONY: run test bench setup vendor-echarts

run:     ## the whole stack and the demo; Ctrl-C stops everything
	scripts/run

test:    ## lint, types, and every test suite against a real broker and PostgreSQL
	scripts/test

bench:   ## the pipeline benchmark (prints JSON)
	scripts/bootstrap && .venv/bin/python bench/pipeline.py

setup:   ## install everything (PostgreSQL if missing, uv, the workspace)
	scripts/bootstrap

vendor-echarts:  ## fetch the pinned Apache ECharts from npm into reporting's static files, checking its hashes
	scripts/vendor-echarts
