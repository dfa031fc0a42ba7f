# The two commands of the README: `make demo` and `make test`. Both bootstrap what they need first.
BUILD   ?= build
JOBS    ?= $(shell nproc)
PY      := .venv/bin/python
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: demo test build bootstrap bench gpu-check clean

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

# The main job (issue 5): data -> synth-loop training for a bounded few minutes -> transcription of held-out
# audio -> metrics, WAV/MIDI/PNG/Markdown in out/transcription/. Then a phrase rendered by the C++ embedding.
demo: build
	$(PY) -m pianograd.transcription.demo --out out/transcription
	$(BUILD)/examples/embed_synth --demo out/piano_demo.wav

bench: build
	$(BUILD)/bench/pianograd_bench --benchmark_min_time=0.2

# On a machine with an NVIDIA GPU: the CUDA build, every `gpu` test and the GPU benchmarks (issue 6).
gpu-check: bootstrap
	scripts/gpu_check.sh out/gpu_check

clean:
	rm -rf $(BUILD)
