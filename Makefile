# Thin wrapper over CMake/CTest: deps, build, test, asan, demo, clean.
# Every target installs what is missing first (make deps, idempotent).
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc)
PKGS = libmsgpack-dev libsqlite3-dev libsodium-dev libcmocka-dev libncurses-dev sqlite3 \
       libmicrohttpd-dev libjansson-dev chromium \
       cmake pkg-config gcc make iproute2 python3
CMAKE_FLAGS ?=

.PHONY: all deps build install test asan demo demo-web web-shot web-fps clean sim sim-soak soak fuzz bench bench-bytes bench-sizes bench-long bench-catchup format

all: build

deps:
	@missing=""; for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' \
	        || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then echo "deps: run as root (apt-get) or install:$$missing"; exit 1; fi; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# raftnode, raftctl and the systemd unit raftnode@.service under PREFIX
# (default /usr/local; DESTDIR for staging); enables nothing
# (docs/HOSTS.md).
install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DSANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE proc $(CTEST_ARGS)

# A 5-node cluster in ./cluster (or $RAFT_DIR) with the live dashboard in
# the foreground (event lines when not on a terminal) until q or Ctrl-C; use
# build/bin/raftctl from a second terminal. The defaults time out in
# 150-300 ms; `make demo DEMO_FLAGS="--heartbeat 100 --election 1000"` slows
# the timers to 1-2 s so an election can be watched in slow motion.
DEMO_FLAGS ?=
demo: build
	$(BUILD)/bin/raftctl up $(DEMO_FLAGS)

# The same in slow motion in the browser: 5 members in ./cluster-web (ports
# 7101-7105), heartbeats every 300 ms, election timeouts of 3 to 6 s, and
# `raftctl up --web`, which prints the page's URL (with its token) and
# serves it on 127.0.0.1:7080 until Ctrl-C, which stops the cluster.
# docs/WEB.md.
WEB_DEMO_DIR ?= cluster-web
WEB_DEMO_FLAGS ?= --heartbeat 300 --election 3000
demo-web: build
	$(BUILD)/bin/raftctl -d $(WEB_DEMO_DIR) up -n 5 --port 7100 --web $(WEB_DEMO_FLAGS)

# docs/web.png from a live slow-motion cluster, and the page's frame rate
# with 16 members (headless chromium; docs/WEB.md).
web-shot: build
	bash tests/web/screenshot.sh $(BUILD)/bin/raftctl docs/web.png
web-fps: build
	bash tests/web/fps.sh $(BUILD)/bin/raftctl 16

# The deterministic simulator: every seed of the CI range, or random seeds
# for MINUTES minutes (default 5; each failing seed is printed with its
# replay command).
sim: build
	$(BUILD)/bin/raftsim --seeds 1..2000

sim-soak: build
	$(BUILD)/bin/raftsim --soak $(or $(MINUTES),5)

# Real processes for MINUTES minutes (default 10): a nemesis of kills,
# pauses, partitions, netem and disk stalls against a compacting cluster
# under client load, then the linearizability checker and an audit of
# acknowledged writes (tests/proc/soak.sh; SOAK_* tune it).
soak: build
	SOAK_MINUTES=$(or $(MINUTES),10) bash tests/proc/soak.sh $(BUILD)/bin/raftctl

# Reformats every tracked .c and .h file with the house .clang-format.
format:
	@command -v clang-format >/dev/null || { [ "$$(id -u)" = 0 ] && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang-format >/dev/null; } \
	    || { echo "format: needs clang-format (apt-get install clang-format)"; exit 1; }
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# Coverage-guided fuzzing of the wire decoder, cluster.conf parser and
# datagram envelope with libFuzzer (clang); new inputs go to
# $(FUZZ_BUILD)/corpus.
fuzz: deps
	@command -v clang >/dev/null || { echo "fuzz: needs clang (apt-get install clang)"; exit 1; }
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_wire fuzz_conf fuzz_auth
	mkdir -p $(FUZZ_BUILD)/corpus/wire $(FUZZ_BUILD)/corpus/conf $(FUZZ_BUILD)/corpus/auth
	$(FUZZ_BUILD)/bin/fuzz_wire -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus/wire tests/fuzz/corpus/wire
	$(FUZZ_BUILD)/bin/fuzz_conf -max_total_time=$(FUZZ_SECONDS) \
	    -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus/conf tests/fuzz/corpus/conf
	$(FUZZ_BUILD)/bin/fuzz_auth -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus/auth tests/fuzz/corpus/auth

# Side by side with etcd 3.4 (Debian's package, which the script installs):
# 3 members each on loopback, fsync on, closed-loop clients, BENCH_SECONDS
# per figure (about two minutes in all). Prints the README's Performance
# table. The disk line first: every figure depends on fsync latency.
BENCH_SECONDS ?= 10
COMPARE ?= ../shared/bench/compare-etcd.sh
bench: build
	@probe=$(BUILD)/fsync.probe; \
	dd if=/dev/zero of=$$probe bs=4k count=100 conv=notrunc 2>/dev/null; \
	echo "disk: one fsync'd 4 KiB overwrite takes $$(dd if=/dev/zero \
	    of=$$probe bs=4k count=100 oflag=dsync conv=notrunc 2>&1 | \
	    awk '/copied/ {printf "%.2f ms", $$(NF-3) * 10}')"; \
	rm -f $$probe
	RAFTCTL=$(BUILD)/bin/raftctl $(COMPARE) $(BENCH_SECONDS)
	@$(MAKE) --no-print-directory bench-bytes

# Issue 21's sweep: writes/s, latency, disk bytes written per user byte per
# member and CPU per write, 3 members at 100, 4000 and 32000-byte values
# and 7 members at 100 and 4000 (64 clients, BENCH_SECONDS a row).
bench-bytes: build
	RAFTCTL=$(BUILD)/bin/raftctl BENCH_SECONDS=$(BENCH_SECONDS) \
	    tests/bench/amplification.sh

# Issue 21's side-by-side at 4000 and 32000-byte values (etcd via its JSON
# gateway, then ours; needs what make bench installs).
bench-sizes: build
	RAFTCTL=$(BUILD)/bin/raftctl LUA=$(dir $(COMPARE))etcd_kv.lua tests/bench/compare_sizes.sh $(BENCH_SECONDS)

# Issue 16's figures: five minutes of writes at the default compaction
# settings (writes/s, peak database + WAL, restart to first put), and a
# follower catching up through InstallSnapshot.
LONG_SECONDS ?= 300
bench-long: build
	RAFTCTL=$(BUILD)/bin/raftctl tests/bench/long_run.sh $(LONG_SECONDS)
bench-catchup: build
	RAFTCTL=$(BUILD)/bin/raftctl tests/bench/catch_up.sh
