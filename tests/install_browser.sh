#!/usr/bin/env bash
# Debian's Chromium and chromedriver for the browser tests of `s2f app` (tests/test_app.py), from the
# distribution's package archive (nothing else is downloaded: no webdriver-manager, no browser bundles).
# Idempotent and quiet, and it never fails the command it is part of: where the packages cannot be
# installed (no apt-get, not root and no sudo, no archive), it says so in one line and the browser tests
# skip with the reason.
log="${TMPDIR:-/tmp}/s2f_install_browser.log"
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/install_browser.sh: no apt-get here; the browser tests will be skipped" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        sudo="sudo -n"
    else
        echo "tests/install_browser.sh: not root and no sudo; the browser tests will be skipped" >&2
        exit 0
    fi
fi
if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >"$log" 2>&1; then
    echo "tests/install_browser.sh: installing chromium failed (see $log); the browser tests will be skipped" >&2
fi
exit 0
