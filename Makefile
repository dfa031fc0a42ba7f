# The two commands of the README: `make demo` and `make test`. Both bootstrap what they need first.
BUILD   ?= build
JOBS    ?= $(shell nproc)
PY      := .venv/bin/python
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: demo test build bootstrap bench clean

bootstrap:
	@scripts/bootstrap.sh

$(BUILD)/build.ninja: | bootstrap
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
	      -DPython_EXECUTABLE=$(CURDIR)/$(PY)

build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: build
	$(BUILD)/examples/train_demo

bench: build
	$(BUILD)/bench/pianograd_bench --benchmark_min_time=0.2

clean:
	rm -rf $(BUILD)
