#!/usr/bin/env bash
# Installs the built library into a temporary prefix and builds + runs an outside consumer through
# find_package(pianograd), as a user of the C++ library would.
set -euo pipefail
build_dir=$1
src_dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" > "$tmp/install.log"
cmake -S "$src_dir/consumer" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_BUILD_TYPE=Release \
      -DPIANOGRAD_EXAMPLES_DIR="$src_dir/../../examples" > "$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
export LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib64:${LD_LIBRARY_PATH:-}"
"$tmp/build/consumer"
# The embedding example renders its built-in phrase through a MIDI file to a WAV.
"$tmp/build/embed_synth" --demo "$tmp/demo.wav"
test -s "$tmp/demo.wav" && test -s "$tmp/demo.wav.mid"
