#!/usr/bin/env bash
# Installs what the build and tests need, idempotently: Debian packages (only the missing ones, so a
# second run does not touch apt) and a project venv at .venv with the Python tools.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(cmake ninja-build ccache g++ pkg-config libeigen3-dev libxsimd-dev xtl-dev libsndfile1-dev
          libgtest-dev libgmock-dev libbenchmark-dev libomp-dev libkissfft-dev libsamplerate0-dev
          libdlpack-dev nlohmann-json3-dev
          fluidsynth fluid-soundfont-gm)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY_REQS=scripts/requirements-dev.txt
stamp=.venv/.requirements.sha
want=$(sha256sum "$PY_REQS" | cut -d' ' -f1)
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing Python tools into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$PY_REQS"
  echo "$want" > "$stamp"
fi
