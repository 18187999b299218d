# Two commands for a fresh Debian machine:
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build with sanitizers, run every test
# Everything else is CMake (CMakePresets.json): dev, asan, release.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps demo test build-dev build-asan build-release bench format clean

all: build-dev

deps:
	@./scripts/setup-deps.sh

build-dev: deps
	cmake --preset dev >/dev/null
	cmake --build --preset dev -j $(JOBS)

build-asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)

build-release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

demo: build-dev
	./examples/demo.sh build/dev

test: build-asan
	ctest --preset asan -j $(JOBS)

bench: build-release
	cmake --build --preset release --target bench -j $(JOBS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
