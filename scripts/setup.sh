#!/usr/bin/env bash
# Set up everything liveai needs on Debian/Ubuntu: system packages, a .venv, the package.
# Idempotent and fast when nothing changed. As a non-root user it prints the exact
# `sudo apt-get install ...` line it needs instead of guessing.
#   scripts/setup.sh          what the show needs (make run)
#   scripts/setup.sh --test   plus the servers the tests start (make test)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f pyproject.toml ] || [ ! -d liveai ]; then
  echo "liveai setup: run this from a liveai checkout (scripts/setup.sh inside it)" >&2
  exit 1
fi

# Runtime: PortAudio, libsndfile, Mesa GL/EGL, X11 client libraries for glfw, PulseAudio tools
# and the ALSA bridge (monitor sources), JACK (pro-audio routing; also JACK MIDI). python-rtmidi's
# wheel bundles its libjack but links the system's libasound.so.2, which libasound2-plugins
# brings (the package is libasound2 or libasound2t64 depending on the release). aalink's wheel
# (Ableton Link) links libatomic.so.1, which only a compiler would otherwise bring.
APT_PACKAGES=(
  libportaudio2 libsndfile1
  libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri
  libx11-6 libxrandr2 libxinerama1 libxcursor1 libxi6 libxxf86vm1
  pulseaudio-utils libasound2-plugins jackd2 libatomic1
)
# Tests: a virtual X display, liblo's OSC tools, and a private PulseAudio server for the
# monitor-source test (skipped where PipeWire provides the Pulse server: the two conflict).
if [ "${1:-}" = "--test" ]; then
  APT_PACKAGES+=(xvfb xauth liblo-tools)
  if ! dpkg-query -W -f='${Status}' pipewire-pulse 2>/dev/null | grep -q "install ok installed"; then
    APT_PACKAGES+=(pulseaudio)
  fi
fi
PYTHON=${PYTHON:-python3}
# python-rtmidi 1.5.8 ships wheels up to Python 3.12: on newer Pythons pip builds it from source,
# which needs a compiler and the ALSA and JACK headers.
if "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
  APT_PACKAGES+=(g++ pkg-config python3-dev libasound2-dev libjack-jackd2-dev)
fi

say() { printf 'liveai setup: %s\n' "$*" >&2; }

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=("python3-venv")
  fi
else
  say "not a Debian/Ubuntu system: make sure these (or your distribution's equivalents) are installed: ${APT_PACKAGES[*]}"
fi

if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "these system packages are missing. Install them with:"
    printf '\n    sudo apt-get install -y --no-install-recommends %s\n\n' "${missing[*]}" >&2
    say "then run the same make command again."
    exit 1
  fi
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "liveai needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)."
  say "set PYTHON=/path/to/python3.11 and run again."
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi

# Reinstall only when the project's metadata changed.
stamp=.venv/.liveai-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing liveai and its Python dependencies into .venv (first time takes a minute)"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # [link]: Ableton Link (aalink, GPL-3.0: an extra, see pyproject.toml).
  .venv/bin/python -m pip install -q -e '.[test,link]'
  echo "$want" > "$stamp"
fi
