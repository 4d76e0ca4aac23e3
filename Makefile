# A thin wrapper around CMake, so that `make`, `make test` and `make demo` work.
# Each target first installs any missing Debian package (scripts/deps).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps deps-test build test asan demo down bench clean

all: build

deps:
	@./scripts/deps

deps-test:
	@./scripts/deps --test

# Every build configures first (scripts/configure: quick when nothing changed,
# and it never leaves a half-configured directory). `build` builds the tests
# only where Criterion is present; `test` requires them.
build: deps
	./scripts/configure $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

test: deps-test
	./scripts/configure $(BUILD) -DCARTPAIR_TESTS=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DCARTPAIR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

demo: build
	./scripts/demo

bench: build
	./loadtest/bench

clean:
	rm -rf $(BUILD) build-asan
