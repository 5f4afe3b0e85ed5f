# surge: every target installs what is missing (scripts/bootstrap.sh) and builds first.
#   make run         build and start the platform's main job (surge up --standby: three centers,
#                    each a primary with a hot standby, and the gateway) on 127.0.0.1:8080
#   make test        unit, model-based, crash and process tests, sanitizer tests, short fuzz runs
#   make bench       in-process benchmarks (Google Benchmark); figures go to docs/BENCHMARKS.md
#   make bench-peers surge against Redis + Lua, PostgreSQL and nginx in one run
#   make bench-overload a center offered 30x what it can take (shedding, memory, nothing lost)
#   make bench-multicenter  three centers behind the gateway against one center alone, and the
#                    data bus's lags (BUS=embedded or jetstream); bench-gateway is the same
#   make bench-standby  a center alone against a primary with a hot standby (shipping's cost)
#   make drill       failover drills: kill -9 and SIGSTOP of a primary, kill -9 of a standby, a
#                    partition of primary and standby (network namespaces), 136 by default
#                    (DRILLS=34 of each kind), with etcd, and 30 kills of primaries in the
#                    whole deployment (MULTICENTER_DRILLS), with the checker after them
#   make test-slow   the long randomized runs (label slow)
#   make fuzz        longer fuzz runs (FUZZ_SECONDS each, default 300)
BUILD ?= build
SAN_BUILD ?= build-san
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 10
CMAKE_FLAGS ?=

.PHONY: all bootstrap build build-san run test test-fast test-slow test-san fuzz fuzz-short \
        bench bench-peers bench-overload bench-gateway bench-multicenter bench-standby drill format lint clean \
        eval

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(SAN_BUILD)/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DSURGE_SANITIZE=ON -DSURGE_FUZZ=ON -DSURGE_BENCH=OFF $(CMAKE_FLAGS)

build-san: bootstrap $(SAN_BUILD)/build.ninja
	cmake --build $(SAN_BUILD) -j $(JOBS)

run: build
	$(BUILD)/apps/surge/surge up --standby

test: test-fast test-slow test-san fuzz-short
	@echo "make test: all passed"

test-fast: build
	ctest --test-dir $(BUILD) -L fast --output-on-failure -j $(JOBS)

test-slow: build
	ctest --test-dir $(BUILD) -L slow --output-on-failure

# The fast tests again under AddressSanitizer and UndefinedBehaviorSanitizer (clang).
test-san: build-san
	ctest --test-dir $(SAN_BUILD) -L fast -LE nosan --output-on-failure -j $(JOBS)

fuzz-short: build-san
	bash scripts/fuzz.sh $(SAN_BUILD) $(FUZZ_SHORT_SECONDS)

fuzz: build-san
	bash scripts/fuzz.sh $(SAN_BUILD) $(FUZZ_SECONDS)

bench: build
	bash scripts/bench.sh $(BUILD)

# surge against Redis + Lua, PostgreSQL and nginx in one run (installs them from Debian).
bench-peers: build
	bash bench/peers.sh $(BUILD) $(or $(SECONDS),10) $(or $(CONNECTIONS),256)

# A center offered 30x what it can take: sheds quickly, keeps its peak, loses nothing.
bench-overload: build
	bash bench/overload.sh $(BUILD) $(or $(SECONDS),10) $(or $(FACTOR),30) $(OUT)

# Three centers (master and two sub-centers, separate processes) behind the gateway against one
# center alone, and the data bus's lags. BUS=embedded (default) or BUS=jetstream.
bench-multicenter: build
	bash bench/multicenter.sh $(BUILD) $(or $(BUS),embedded) $(or $(SECONDS),6) \
	  $(or $(CONNECTIONS),256) "$(OUT)" $(or $(ROUNDS),5)

bench-gateway: bench-multicenter

# The cost of synchronous shipping: a center alone against a primary with a hot standby.
bench-standby: build
	bash bench/standby.sh $(BUILD) $(or $(SECONDS),6) $(or $(CONNECTIONS),256) "$(OUT)" \
	  $(or $(ROUNDS),5)

# The brain's serving bar: top-20 recommendations over a catalogue of 1M items, p99 at 1,000/s.
bench-brain: build
	bash bench/brain.sh $(BUILD)

# Failover drills on real processes (kill -9 and SIGSTOP of the primary, kill -9 of the standby,
# in a random order), DRILLS of each kind (default 34: 102 drills) with the embedded coordinator
# and a lease of LEASE_MS (300), then ETCD_DRILLS of each kind with etcd; the checker after each.
drill: build
	SURGE_DRILLS=$(or $(DRILLS),34) SURGE_DRILL_SEED=$(or $(SEED),$(shell date +%s)) \
	  SURGE_LEASE_MS=$(or $(LEASE_MS),300) SURGE_ETCD_DRILLS=$(or $(ETCD_DRILLS),4) \
	  $(BUILD)/tests/failover_drill_test
	SURGE_MULTICENTER_DRILLS=$(or $(MULTICENTER_DRILLS),30) \
	  SURGE_DRILL_SEED=$(or $(SEED),$(shell date +%s)) $(BUILD)/tests/multicenter_failover_test

# The brain's evaluation on the public data sets (../shared/data): recommendations on Amazon
# Beauty and daily demand forecasts on UCI Online Retail; the figures go to docs/BRAIN.md.
eval: build
	$(BUILD)/apps/surge/surge brain eval --doc docs/BRAIN.md

format:
	find src apps tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

lint: build
	find src apps -name '*.cc' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(SAN_BUILD)
