# make bench — one report for every step's speed and memory targets (bench/reports/latest.md).
.PHONY: bench
BENCH_SIZES ?= 10000,100000,1000000
bench: setup
	$(BIN)/python -m bench.run --sizes $(BENCH_SIZES)
