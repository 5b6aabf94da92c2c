#!/usr/bin/env bash
# Find a Chromium the browser test can drive, installing one if none is usable.
# Prints the executable's path on stdout (messages go to stderr). Order:
#   1. a chromium already on PATH (or $COMPENDIUM_CHROMIUM) that starts;
#   2. on Debian/Ubuntu as root: Debian's `chromium` package, installed with apt;
#   3. Playwright's own build (`python -m playwright install chromium`), where its
#      download host is reachable;
#   4. otherwise stop with one message naming the command to run.
# Usage: tools/chromium.sh PYTHON   (called by `make test`)
set -uo pipefail
py=${1:-python3}

usable() { [ -n "$1" ] && [ -x "$1" ] && "$1" --headless --no-sandbox --version >/dev/null 2>&1; }

for candidate in "${COMPENDIUM_CHROMIUM:-}" "$(command -v chromium || true)" \
                 "$(command -v chromium-browser || true)"; do
  if usable "$candidate"; then echo "$candidate"; exit 0; fi
done

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "test: no usable Chromium found; installing Debian's chromium with apt-get (about 30 s, once)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >&2 && apt-get install -y -qq chromium >/dev/null 2>&1; then
    hash -r
    for candidate in "$(command -v chromium || true)"; do
      if usable "$candidate"; then echo "$candidate"; exit 0; fi
    done
  fi
  echo "test: apt-get could not install a usable chromium; trying Playwright's own build" >&2
fi

echo "test: installing Playwright's Chromium (python -m playwright install chromium)" >&2
if "$py" -m playwright install chromium >&2 2>&1; then
  candidate=$("$py" -c 'from playwright.sync_api import sync_playwright
with sync_playwright() as p: print(p.chromium.executable_path)' 2>/dev/null)
  if usable "$candidate"; then echo "$candidate"; exit 0; fi
fi

cat >&2 <<'MSG'
test: the browser test needs Chromium and none could be found or installed.
    fix: install it, then run `make test` again: on Debian/Ubuntu `sudo apt-get install chromium`,
         elsewhere `.venv/bin/python -m playwright install chromium`, or point
         COMPENDIUM_CHROMIUM=/path/to/chromium at an existing Chromium or Chrome.
MSG
exit 1
