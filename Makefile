# The two commands of the README: `make demo` and `make test`. Both bootstrap what they need first.
BUILD   ?= build
JOBS    ?= $(shell nproc)
PY      := .venv/bin/python
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: demo test build bootstrap bench gpu-check clean test-sanitize test-fuzz

bootstrap:
	@scripts/bootstrap.sh

$(BUILD)/build.ninja: | bootstrap
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
	      -DPIANOGRAD_PYTHON=ON -DPython_EXECUTABLE=$(CURDIR)/$(PY)

# The Python module is built in the same tree; dev_install.py points .venv at <build>/python (a .pth
# file) and writes the `pianograd` console script, so nothing is copied on an incremental rebuild.
build: bootstrap $(BUILD)/build.ninja
	@grep -q '^PIANOGRAD_PYTHON:BOOL=ON' $(BUILD)/CMakeCache.txt || \
	  cmake -S . -B $(BUILD) -DPIANOGRAD_PYTHON=ON -DPython_EXECUTABLE=$(CURDIR)/$(PY)
	cmake --build $(BUILD) -j $(JOBS)
	$(PY) python/dev_install.py $(BUILD)/python

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(PY) -m pytest -q tests/python
	$(PY) tests/python/run_notebooks.py examples/notebooks
	$(MAKE) --no-print-directory test-fuzz

# The C++ suite under AddressSanitizer + UndefinedBehaviorSanitizer (issue 17): its own tree, no CUDA, no
# Python, no benchmarks; any report fails the test that triggered it. The find_package consumer is left
# out: it links the instrumented library without the ASan runtime, which ASan refuses by design.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
test-sanitize: bootstrap
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS=$(SAN_FLAGS)" \
	      "-DCMAKE_C_FLAGS=$(SAN_FLAGS)" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
	      "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" -DPIANOGRAD_CUDA=OFF \
	      -DPIANOGRAD_BENCH=OFF -DPIANOGRAD_EXAMPLES=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
	cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS) -E 'install\.find_package_consumer' $(SAN_CTEST_ARGS)

# libFuzzer on every reader and parser (issue 17, tests/fuzz/README.md): the readers' sources compiled by
# clang with coverage, ASan and UBSan into one target each (linking the main build's library for the
# rest), then FUZZ_RUNS inputs per target from the committed seeds, drawn with a fixed FUZZ_SEED so that
# the short run is the same on every machine. A long run that explores:
# FUZZ_RUNS=-1 FUZZ_SEED=0 FUZZ_SECONDS=3600 make test-fuzz (or tests/fuzz/run_fuzzer.sh on one target).
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= 20000
FUZZ_SEED ?= 1
test-fuzz: build
	cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	      -DPIANOGRAD_BUILD=$(CURDIR)/$(BUILD) -DPIANOGRAD_FUZZ_SECONDS=$(FUZZ_SECONDS) \
	      -DPIANOGRAD_FUZZ_RUNS=$(FUZZ_RUNS) -DPIANOGRAD_FUZZ_SEED=$(FUZZ_SEED) \
	      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
	cmake --build build-fuzz -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir build-fuzz --output-on-failure -L fuzz

# The main job (issues 5, 16): a tour of the basic setup on a held-out piece. h trains through the synth loop
# for a bounded few minutes and transcribes held-out audio, g reads the piece's engraved first page, LM^M
# scores held-out performances and continues h's transcription; WAV/MIDI/PNG/Markdown in out/demo/. Then a
# phrase rendered by the C++ embedding.
demo: build
	$(PY) -m pianograd.tour --out out/demo
	$(BUILD)/examples/embed_synth --demo out/piano_demo.wav

bench: build
	$(BUILD)/bench/pianograd_bench --benchmark_min_time=0.2

# On a machine with an NVIDIA GPU: the CUDA build, every `gpu` test and the GPU benchmarks (issue 6).
gpu-check: bootstrap
	scripts/gpu_check.sh out/gpu_check

clean:
	rm -rf $(BUILD)
