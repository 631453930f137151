# ruxue - a thin wrapper around Meson + Ninja.
#
#   make          build build/ruxue (release, -Wall -Wextra -Werror)
#   make run      install what is missing, build, allocate the demo city, then
#                 serve the platform on it (http://127.0.0.1:$(PORT)/)
#   make test     install what is missing, build, run every test, and the
#                 unit and end-to-end tests again under ASan + UBSan
#   make bench    the benchmarks (figures in docs/performance.md)
#   make soak     the long runs: 100 SIGKILLs of the server during a
#                 1,000-connection surge (tests/soak/kill_loop.mjs), and
#                 23,280 power cuts (tests/unit/test_powerloss.c)
#   make screenshots  the browser tests, refreshing docs/screenshots/
#   make fuzz     each fuzz harness for FUZZ_SECONDS under libFuzzer (clang,
#                 ASan + UBSan; build-fuzz/); new inputs stay in build-fuzz/
#   make deps     install the Debian packages that are missing
#   make clean    remove the build directories

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DEMO       ?= demo-city
DEMO_STUDENTS ?= 20000
DEMO_SCHOOLS  ?= 60
PORT          ?= 8080
DEMO_KEYS     ?= .demo-keys

.PHONY: all deps run test test-asan bench screenshots soak fuzz clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@tools/deps.sh build
	meson setup $(BUILD) --buildtype=release

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

deps:
	tools/deps.sh test

run: all
	@tools/deps.sh run
	./$(BUILD)/ruxue demo --students $(DEMO_STUDENTS) --schools $(DEMO_SCHOOLS) --seed 1 --out $(DEMO)
	./$(BUILD)/ruxue allocate $(DEMO) --out $(DEMO)/result --seed 0000000000000000000000000000000000000000000000000000000000000001
	@echo
	@echo "The demo district is in $(DEMO)/, the result in $(DEMO)/result/."
	@echo "Starting the platform (Ctrl-C stops it); the personal-data key is in $(DEMO_KEYS)/."
	@mkdir -p -m 700 $(DEMO_KEYS)
	./$(BUILD)/ruxue serve --demo --db $(DEMO)/ruxue.db --pii-key $(DEMO_KEYS)/pii.key \
	  --district $(DEMO) --port $(PORT) --web web

# npm ci when package-lock.json is newer than what is installed
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

test: deps all node_modules/.package-lock.json $(ASAN_BUILD)/build.ninja
	meson test -C $(BUILD) --print-errorlogs
	ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --suite unit --suite e2e --suite fuzz --print-errorlogs --timeout-multiplier 4
	@python3 tools/test_summary.py $(BUILD)/meson-logs/testlog.json \
	  $(ASAN_BUILD)/meson-logs/testlog.json

# the browser tests again, keeping their screenshots in docs/screenshots/
screenshots: deps all node_modules/.package-lock.json
	RUXUE=$(BUILD)/ruxue RUXUE_SCREENSHOTS=$(CURDIR)/docs/screenshots \
	  node --test --test-concurrency=1 tests/browser/

bench: all
	@tools/deps.sh bench
	./$(BUILD)/bench/bench_engine
	tools/bench_allocate.sh ./$(BUILD)/ruxue
	tools/bench_serve.sh ./$(BUILD)/ruxue 1000 30
	tools/bench_overload.sh ./$(BUILD)/ruxue 20

# the long runs, niced (figures in docs/reliability.md): the kill loop at
# full length, and the power-loss sweep with 20 random subsets per cut
SOAK_KILLS    ?= 100
SOAK_CONNS    ?= 1000
SOAK_INTERVAL ?= 2
soak: deps all
	RUXUE=$(BUILD)/ruxue nice -n 19 node tests/soak/kill_loop.mjs \
	  --kills $(SOAK_KILLS) --connections $(SOAK_CONNS) --interval $(SOAK_INTERVAL)
	RUXUE_POWERLOSS_SEEDS=20 nice -n 19 ./$(BUILD)/tests/unit/test_powerloss

# Fuzzing (fuzz/; figures in docs/reliability.md).  The harnesses are the
# directories of fuzz/corpus/; FUZZ_TARGETS="csv policy" runs some of them.
# Each runs FUZZ_SECONDS with its seed corpus and dictionary; the inputs it
# finds go to $(FUZZ_BUILD)/corpus/NAME, a crash, leak or timeout to
# $(FUZZ_BUILD)/artifacts/NAME/ and fails the target (after the others ran).
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= $(notdir $(wildcard fuzz/corpus/*))
FUZZ_FLAGS   ?= -timeout=30 -rss_limit_mb=2048 -print_final_stats=1

$(FUZZ_BUILD)/build.ninja:
	@tools/deps.sh fuzz
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true -Dtests=false \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(addprefix fuzz/fuzz_,$(FUZZ_TARGETS))
	@failed=""; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t $(FUZZ_BUILD)/logs; \
	  dict=""; [ -f fuzz/$$t.dict ] && dict="-dict=fuzz/$$t.dict"; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/logs/$$t.log)"; \
	  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./$(FUZZ_BUILD)/fuzz/fuzz_$$t $(FUZZ_FLAGS) \
	       -max_total_time=$(FUZZ_SECONDS) $$dict -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
	       $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t >$(FUZZ_BUILD)/logs/$$t.log 2>&1; then \
	    grep -E '^(Done|stat::number_of_executed_units)|cov:' $(FUZZ_BUILD)/logs/$$t.log | tail -2; \
	  else \
	    failed="$$failed $$t"; tail -n 30 $(FUZZ_BUILD)/logs/$$t.log; \
	    echo "fuzz: $$t FAILED; reproducer(s): $$(ls $(FUZZ_BUILD)/artifacts/$$t/)" \
	         "in $(FUZZ_BUILD)/artifacts/$$t/ (replay: $(BUILD)/fuzz/replay_$$t FILE)"; \
	  fi; \
	done; [ -z "$$failed" ] || { echo "fuzz: failed:$$failed"; exit 1; }

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
