#!/usr/bin/env bash
# Find poppler's pdftoppm, which the layout test uses to render the manuscript's PDF pages,
# installing Debian's poppler-utils if none is on PATH. Prints its path on stdout (messages go
# to stderr). Order: $COMPENDIUM_PDFTOPPM or pdftoppm on PATH; on Debian/Ubuntu as root,
# `apt-get install poppler-utils`; otherwise stop with one message naming the command to run.
# Usage: tools/pdftoppm.sh   (called by `make test`)
set -uo pipefail

usable() { [ -n "$1" ] && [ -x "$1" ] && "$1" -v >/dev/null 2>&1; }

for candidate in "${COMPENDIUM_PDFTOPPM:-}" "$(command -v pdftoppm || true)"; do
  if usable "$candidate"; then echo "$candidate"; exit 0; fi
done

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "test: pdftoppm not found; installing Debian's poppler-utils with apt-get (about 10 s, once)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if { apt-get install -y -qq poppler-utils >/dev/null 2>&1 || { apt-get update -qq >&2 && apt-get install -y -qq poppler-utils >/dev/null 2>&1; }; }; then
    hash -r
    candidate="$(command -v pdftoppm || true)"
    if usable "$candidate"; then echo "$candidate"; exit 0; fi
  fi
fi

cat >&2 <<'MSG'
test: the PDF layout test needs pdftoppm (poppler) and none could be found or installed.
    fix: install it, then run `make test` again: on Debian/Ubuntu `sudo apt-get install poppler-utils`,
         on macOS `brew install poppler`, or point COMPENDIUM_PDFTOPPM=/path/to/pdftoppm at one.
MSG
exit 1
