#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine (idempotent): Arm toolchain + QEMU + Chromium, the Python venv with pinned
# dependencies, then `edgeq setup`: CMSIS-NN in the ignored cache, and the QEMU instruction-count plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

need_apt=()
command -v arm-none-eabi-gcc >/dev/null || need_apt+=(gcc-arm-none-eabi)
[ -f /usr/lib/arm-none-eabi/newlib/libc.a ] || [ -d /usr/lib/arm-none-eabi/newlib ] || need_apt+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
command -v chromium >/dev/null || need_apt+=(chromium)      # renders the audit report in a test
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]} (Debian)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: need root to apt-get install ${need_apt[*]}; run: sudo apt-get install -y --no-install-recommends ${need_apt[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.edgeq-deps
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "== installing Python dependencies (pinned)"
  .venv/bin/pip install -q --upgrade "pip==25.3" "setuptools==80.9.0" wheel
  .venv/bin/pip install -q --no-build-isolation -e ".[test,quantize,audit,scale]"
  touch "$stamp"
fi

.venv/bin/edgeq setup      # CMSIS-NN into .cache/cmsis-nn, the QEMU plugin into .cache/qemu-plugin
echo "== setup done"
