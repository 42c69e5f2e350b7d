#!/usr/bin/env bash
# Install what the anthology compiler needs on a fresh Debian/Ubuntu machine, then build seeds/ into dist/.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

if command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # python3-venv: the virtualenv; fonts-noto-cjk/-core: the CJK and Latin faces the themes use;
  # libpango: WeasyPrint's text layout; libharfbuzz-subset0: fast font subsetting (fontTools takes ~15 s per CJK PDF); a Java runtime: EPUBCheck in the tests; poppler-utils: pdftoppm previews.
  # pandoc: the EPUB benchmark's yardstick (bench/epub_bench.py). libgs-common: Ghostscript's ICC profiles, whose
  # CMYK one is --print's PDF/X-4 output intent when pdf.output_profile names none (compile/writers/pdf/prepress.py).
  want="pandoc python3 python3-venv python3-pip fonts-noto-cjk fonts-noto-core libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils libgs-common"
  command -v java >/dev/null 2>&1 || want="$want default-jre-headless"
  # chromium: headless browser that prints the vertical theme's PDF (compile/writers/pdf/chromium.py), and
  # runs DAISY Ace (EPUB accessibility tests) and chapter previews;
  # node/npm: to install Ace. Debian 12 ships nodejs 18 + npm 9; a NodeSource nodejs already bundles npm.
  want="$want chromium"
  command -v node >/dev/null 2>&1 || want="$want nodejs"
  command -v npm >/dev/null 2>&1 || want="$want npm"
  missing=""
  for pkg in $want; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
  if [ -n "$missing" ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  fi
fi

# DAISY Ace (EPUB accessibility checker) in .ace/, run by the tests with Debian's chromium: no browser download.
if [ ! -x .ace/node_modules/.bin/ace-cli ] && command -v npm >/dev/null 2>&1; then
  mkdir -p .ace
  [ -f .ace/package.json ] || echo '{"name": "anthology-ace", "private": true}' > .ace/package.json
  (cd .ace && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error @daisy/ace-cli@1.4.6)
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Exactly the tested set (requirements.lock: the dependencies and the test and dask extras, pinned), then the
# project itself without resolving again; docs/upgrading.md says how to regenerate the lock.
.venv/bin/python -m pip install -q -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .
# An editable install leaves the package's modules uncompiled: byte-compile them as pip does an installed
# package's, so that no build compiles them again (~0.3 s a process where bytecode is not written back).
.venv/bin/python -m compileall -q compile >/dev/null
.venv/bin/anthology build
