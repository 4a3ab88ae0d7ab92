# Sourced by scripts/run and scripts/test: a virtual environment with the right PyTorch and StyleCam in it.
# Idempotent: what is already there is kept, so a second run only checks.
#
#   STYLECAM_VENV    the environment's folder (default: .venv in the project)
#   PYTHON           the interpreter to make it with (default: python3; 3.8 or newer)
#   STYLECAM_TORCH   what to give pip for PyTorch instead of the automatic choice (e.g. a wheel file)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STYLECAM_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
CPU_INDEX="https://download.pytorch.org/whl/cpu"
FALLBACK_TORCH="torch==2.13.0"      # The release StyleCam is tested with, where the CPU index is unreachable.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

make_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 8))' \
            || { echo "StyleCam needs Python 3.8 or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2; exit 1; }
        say "making the virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
    fi
}

install_torch() {
    if "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
        return
    fi
    local pip=("$VENV/bin/python" -m pip install --quiet)
    if [ -n "${STYLECAM_TORCH:-}" ]; then
        say "installing PyTorch: $STYLECAM_TORCH"
        "${pip[@]}" $STYLECAM_TORCH
    elif [ -e /etc/nv_tegra_release ]; then
        echo "This is a Jetson: use NVIDIA's PyTorch for its JetPack (README, \"On a Jetson\"), e.g." \
             "STYLECAM_TORCH=/path/to/torch-*.whl $0" >&2
        exit 1
    elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        say "an NVIDIA GPU is here: installing PyTorch with CUDA"
        "${pip[@]}" torch
    elif "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('$CPU_INDEX/torch/', timeout=5)" 2>/dev/null; then
        say "no NVIDIA GPU: installing PyTorch's CPU build (no gigabytes of CUDA)"
        "${pip[@]}" torch --index-url "$CPU_INDEX"
    else
        say "no NVIDIA GPU, and $CPU_INDEX cannot be reached: installing $FALLBACK_TORCH from pip's own sources"
        "${pip[@]}" "$FALLBACK_TORCH"
    fi
}

install_stylecam() {   # $1: the extras, e.g. "[dev]", or nothing
    say "installing StyleCam${1:-} into $VENV"
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT${1:-}"
}
