#!/usr/bin/env bash
# berth's web console in a real browser: Debian's Chromium driven by playwright-core (pinned in
# tests/browser/package.json and package-lock.json) against the `berth` binary (debug build),
# with skopeo pushing and pulling an image through the credentials the console shows, and
# axe-core checking every main page.
#
# Usage: scripts/browser.sh                  install what is missing, build, run both tests
#        scripts/browser.sh end_to_end       only tests whose name contains a pattern
#        BERTH_SCREENSHOTS=DIR ...           where the screenshots go (default target/screenshots)
#        BERTH_BROWSER_KEEP=1 ...            keep the temporary directory (server log, data)
#
# Installs, only where missing: chromium, skopeo, and nodejs + npm when there is no `node`
# (one apt-get call); playwright-core and axe-core (the accessibility checker the test injects
# into each page) with `npm ci` into tests/browser/node_modules. Never
# downloads a browser (no `playwright install`). The last line is cargo's `test result:` line,
# which scripts/test.sh can add to its totals; the exit code is non-zero when a test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

chromium="${BERTH_CHROMIUM:-/usr/bin/chromium}"
packages=()
[ -x "$chromium" ] || packages+=(chromium)
command -v skopeo >/dev/null 2>&1 || packages+=(skopeo)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
if [ ${#packages[@]} -gt 0 ]; then
  step "apt-get install ${packages[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
fi

# playwright-core and axe-core at the locked versions; `npm ci` (from package-lock.json) only
# when one is missing or at another version.
versions() {
  node -p "['playwright-core', 'axe-core'].map((p) => { try { return p + '@' + require('./tests/browser/$1' + p + '/package.json').version } catch (e) { return p + '@none' } }).join(' ')"
}
pinned=$(node -p "const l = require('./tests/browser/package-lock.json').packages; ['playwright-core', 'axe-core'].map((p) => p + '@' + l['node_modules/' + p].version).join(' ')")
installed=$(versions node_modules/)
if [ "$installed" != "$pinned" ]; then
  step "npm ci ($pinned into tests/browser/node_modules)"
  (cd tests/browser && npm ci --no-audit --no-fund)
fi

step "cargo build -p berth"
cargo build -p berth
export BERTH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/berth"

step "browser tests ($("$chromium" --version 2>/dev/null || echo "$chromium"))"
exec node tests/browser/console.test.mjs "$@"
