#!/usr/bin/env bash
# Installs what the build, tests and demo need, idempotently: Debian packages (only the missing ones,
# so a second run does not touch apt) and a project venv at .venv with the Python tools. Works from a
# minimal Debian bookworm (make, git and certificates only): Python itself comes from Debian too
# (python3, python3-venv for the venv, python3-dev for the extension's headers), and the venv is built
# on Debian's /usr/bin/python3, never on whatever other Python happens to be first on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(cmake ninja-build ccache make g++ pkg-config ca-certificates
          python3 python3-venv python3-dev
          libeigen3-dev libxsimd-dev xtl-dev libsndfile1-dev
          libgtest-dev libgmock-dev libbenchmark-dev libomp-dev libkissfft-dev libsamplerate0-dev
          libdlpack-dev nlohmann-json3-dev libpng-dev libjpeg-dev clang libclang-rt-14-dev
          libopenmpi-dev openmpi-bin
          fluidsynth fluid-soundfont-gm
          musescore3)  # a second engraver, to measure OMR on pages g never trained on (headless)
APT_INSTALL_FOR=bootstrap bash scripts/apt_install.sh "${APT_PKGS[@]}"

PY_REQS=scripts/requirements-dev.txt
stamp=.venv/.requirements.sha
want=$(sha256sum "$PY_REQS" | cut -d' ' -f1)
PY_BASE=/usr/bin/python3
# A venv made earlier from another interpreter (pyenv, conda...) is rebuilt on Debian's: the extension
# is compiled against python3-dev's headers, so the venv must run that same Python.
if [[ -x .venv/bin/python ]] && ! grep -qx "home = /usr/bin" .venv/pyvenv.cfg 2>/dev/null; then
  echo "bootstrap: .venv was made from another Python ($(sed -n 's/^home = //p' .venv/pyvenv.cfg)); rebuilding it on $PY_BASE"
  rm -rf .venv
fi
if [[ ! -x .venv/bin/python ]]; then
  "$PY_BASE" -m venv .venv
fi
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing Python tools into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$PY_REQS"
  echo "$want" > "$stamp"
fi
