#!/usr/bin/env bash
# Installs the free piano sound fonts the shipped transcriber trains on (configs/data/piano_*.json),
# idempotently: FluidR3 GM (grand, bright), FluidR3 Mono (its mellow grand, bank 8) and csound's GM bank.
# Not needed by `make test` or `make demo`; only to regenerate the shipped model's training data.
# musescore-general-soundfont* and timgm6mb-soundfont are reserved for judging held-out pianos: never
# install them for training (pianograd.data.render refuses them by name anyway).
set -euo pipefail
PKGS=(fluidsynth fluid-soundfont-gm fluidr3mono-gm-soundfont csound-soundfont)
APT_INSTALL_FOR=install_pianos bash "$(dirname "$0")/apt_install.sh" "${PKGS[@]}"
for f in /usr/share/sounds/sf2/FluidR3_GM.sf2 /usr/share/sounds/sf3/FluidR3Mono_GM.sf3 /usr/share/sounds/sf2/sf_GMbank.sf2; do
  [[ -f $f ]] || { echo "install_pianos: $f is missing after install" >&2; exit 1; }
done
echo "install_pianos: sound fonts ready"
