#!/bin/sh
# Installs the operating-system packages the test suite needs, when they are missing:
#   - a Chromium for the browser target and the runbook tests (Debian's headless shell),
#     and a Japanese font so that screenshots show Japanese text;
#   - a PostgreSQL server for the team-state tests (started and stopped by the tests themselves).
# On Debian or Ubuntu as root (or with sudo) it installs them with apt-get; elsewhere it says
# what to install and stops. Running it again when everything is there does nothing.
set -eu

missing=""
have_chromium() {
    for bin in /usr/lib/chromium/chromium-headless-shell /usr/lib/chromium/chromium \
        /usr/bin/chromium /usr/bin/chromium-browser; do
        [ -x "$bin" ] && return 0
    done
    return 1
}
have_postgres() {
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1
}
have_font() {
    ls /usr/share/fonts/opentype/ipafont-gothic >/dev/null 2>&1 \
        || ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1
}

have_chromium || missing="$missing chromium-headless-shell"
have_font || missing="$missing fonts-ipafont-gothic"
have_postgres || missing="$missing postgresql"
[ -z "$missing" ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "test-deps: the tests need:$missing — install them as root (apt-get install$missing)" >&2
        exit 1
    fi
    echo "test-deps: installing$missing" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    exit 0
fi
echo "test-deps: the tests need a Chromium (or Chrome), a Japanese font and a PostgreSQL server (14 or newer):" >&2
echo "  missing:$missing — install them with your system's package manager" >&2
exit 1
