#!/bin/sh
# Saves the dashboard's project, projects, integration and owner-wide pages at 390 and 1366 px,
# light and dark, into docs/screenshots/ (needs /usr/bin/chromium, as the browser tests do).
set -eu
cd "$(dirname "$0")/.."
ENVHOOKS_SCREENSHOTS=1 exec npx vitest run test/browser/dashboard-screenshots.test.ts
