# A thin wrapper around CMake, so that `make`, `make test` and `make demo` work.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build test asan demo bench clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DCARTPAIR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

demo: build
	./scripts/demo

bench: build
	./loadtest/bench

clean:
	rm -rf $(BUILD) build-asan
