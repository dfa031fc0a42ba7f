#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet (so a second run does not
# touch apt at all); sudo only when not root. Used by bootstrap.sh and install_pianos.sh.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "$(basename "${APT_INSTALL_FOR:-apt_install}"): installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
