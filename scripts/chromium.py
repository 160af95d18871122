"""Headless Debian Chromium for the browser tests and the dashboard benchmark.

Root in a closed network: no sandbox, no GPU, and no background connections (they are
refused here, many at a time, and slow every start).
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
