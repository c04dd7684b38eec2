# Shared by scripts/test and scripts/scan: the emulator's Python venv, installed on demand.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

ensure_venv() {
    local stamp="$VENV/.requirements"
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    if ! cmp -s "$ROOT/tests/emulator/requirements.txt" "$stamp"; then
        echo "Installing the AWS emulator (moto) into $VENV …" >&2
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/tests/emulator/requirements.txt"
        cp "$ROOT/tests/emulator/requirements.txt" "$stamp"
    fi
}

# Debian's headless Chromium and its driver, for the browser tests of the report and the
# daemon's pages (tests/report.rs): installed when missing, as root (or with sudo).
ensure_browser() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return
    fi
    echo "Installing Debian's chromium and chromium-driver for the browser tests …" >&2
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "the browser tests need chromium and chromium-driver: install them as root (apt-get install chromium chromium-driver)" >&2; return 1; }
        sudo="sudo"
    fi
    local install="DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null"
    $sudo sh -c "$install" || { $sudo apt-get update -qq >/dev/null && $sudo sh -c "$install"; }
}
