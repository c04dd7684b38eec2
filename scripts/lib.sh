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
