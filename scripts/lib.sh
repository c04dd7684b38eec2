# Shared by scripts/test and scripts/scan: the emulator's Python venv, installed on demand, and
# the one build of the workspace.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
# Where cargo builds (CARGO_TARGET_DIR, else target/); scripts cd to $ROOT first.
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

# The binaries and the tests, in the one test profile. scripts/scan builds the same as
# scripts/test: the tests' dev-dependencies turn on features of shared crates (tokio's
# test-util, the store's test-support), and a build of the binary alone resolves other
# features and compiles every crate above them again, the AWS SDK's included.
build_workspace() {
    cargo build --workspace --bins --tests --locked
}

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
