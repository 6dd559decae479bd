# Thin wrapper over CMake/CTest: deps, build, test, asan, demo, clean.
# Every target installs what is missing first (make deps, idempotent).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PKGS = libmsgpack-dev libsqlite3-dev libcmocka-dev libncurses-dev sqlite3 \
       cmake pkg-config gcc make iproute2 python3
CMAKE_FLAGS ?=

.PHONY: all deps build test asan demo clean sim soak

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

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DSANITIZE=address,undefined $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE proc $(CTEST_ARGS)

# A 5-node cluster in ./cluster (or $RAFT_DIR), event lines in the
# foreground until Ctrl-C; use build/bin/raftctl from a second terminal.
demo: build
	$(BUILD)/bin/raftctl up

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
