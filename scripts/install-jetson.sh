#!/usr/bin/env bash
# Install StyleCam natively on a Jetson whose system Python already has PyTorch (>= 1.13, with CUDA) and
# OpenCV: the way for the original Jetson Nano, on the Ubuntu 20.04 community image (Python 3.8, PyTorch 1.13,
# OpenCV 4.8 with CUDA and GStreamer), where JetPack 4's own Python 3.6 is too old for StyleCam.
#
#   scripts/install-jetson.sh [--source csi://0] [--port 5000] [--no-service] [--no-fetch] [--dry-run]
#
# It keeps the system's torch and OpenCV (a virtual environment with --system-site-packages; StyleCam is
# installed without its dependency list, so pip never puts its GStreamer-less OpenCV or a CUDA-less torch over
# them), adds the few pure-Python dependencies, runs `python -m app doctor` (and stops where StyleCam cannot
# run), fetches the models, and installs a systemd service that starts StyleCam at boot with a fixed token
# (kept in ~/.config/stylecam/token, so the link stays the same). --dry-run prints the commands instead.
#
#   PYTHON          the interpreter with torch and cv2 (default: python3)
#   STYLECAM_VENV   the environment (default: ~/.local/share/stylecam/venv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${STYLECAM_VENV:-$HOME/.local/share/stylecam/venv}"
TOKEN_FILE="$HOME/.config/stylecam/token"
UNIT="/etc/systemd/system/stylecam.service"
SOURCE="csi://0"
PORT=5000
SERVICE=1
FETCH=1
DRY_RUN=0

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'install-jetson: %s\n' "$*" >&2; exit 1; }
run() { if [ "$DRY_RUN" = 1 ]; then printf '%q ' "$@"; echo; else "$@"; fi; }

while [ $# -gt 0 ]; do
    case "$1" in
        --source) SOURCE="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --no-service) SERVICE=0; shift ;;
        --no-fetch) FETCH=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

# What the system Python must already have: StyleCam brings neither PyTorch nor OpenCV here.
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null \
    || die "$PYTHON is $("$PYTHON" -V 2>&1); StyleCam needs Python 3.8 or newer (on the original Nano: the Ubuntu 20.04 community image, or the Nano Docker image: README, \"On a Jetson\")"
"$PYTHON" -c 'import torch, re, sys; sys.exit(tuple(map(int, re.findall(r"\d+", torch.__version__)[:2])) < (1, 13))' 2>/dev/null \
    || die "$PYTHON has no PyTorch 1.13 or newer; install NVIDIA's (or the image's) wheel for this JetPack first"
"$PYTHON" -c 'import cv2' 2>/dev/null \
    || die "$PYTHON has no OpenCV; install the system's (apt install python3-opencv, or the image's build with GStreamer)"
say "system Python: $("$PYTHON" -c 'import sys, torch, cv2; print(sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda, "OpenCV", cv2.__version__)')"

if [ ! -x "$VENV/bin/python" ]; then
    say "making $VENV (it sees the system's torch and OpenCV)"
    run "$PYTHON" -m venv --system-site-packages "$VENV"
fi
say "installing StyleCam without its dependency list (keeps the system's torch and OpenCV)"
run "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT"
run "$VENV/bin/python" -m pip install --quiet "flask>=2.3" "click>=8.1.3" "pillow>=10.0" "waitress>=2.1"
if ! "$PYTHON" -c 'import cv2, sys; v = tuple(map(int, cv2.__version__.split(".")[:2])); sys.exit(not (hasattr(cv2, "FaceDetectorYN") and v >= (4, 8)))' 2>/dev/null; then
    say "this OpenCV cannot run YuNet's current model: adding onnxruntime to run it"
    # onnxruntime needs a newer NumPy than some systems have; pip must not bring NumPy 2 beside a system torch
    # and OpenCV built against NumPy 1, which then fail to import.
    NUMPY="$("$PYTHON" -c 'import numpy; print("numpy<2" if numpy.__version__.startswith("1.") else "numpy")' \
        2>/dev/null || echo numpy)"
    run "$VENV/bin/python" -m pip install --quiet onnxruntime "$NUMPY"
fi
if [ "$DRY_RUN" = 0 ] && "$VENV/bin/python" -m pip list 2>/dev/null | grep -qiE '^opencv-(contrib-)?python'; then
    die "pip's OpenCV is in $VENV and would hide the system's GStreamer build: pip uninstall it there"
fi

say "checking the machine"
run "$VENV/bin/python" -m app doctor || die "StyleCam cannot run here yet: fix the failures above, then run this again"
if [ "$FETCH" = 1 ]; then
    run "$VENV/bin/python" -m app weights fetch ffhq-256 yunet
fi

if [ "$SERVICE" = 1 ]; then
    if [ ! -s "$TOKEN_FILE" ]; then
        run mkdir -p "$(dirname "$TOKEN_FILE")"
        [ "$DRY_RUN" = 1 ] || (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(16))' > "$TOKEN_FILE")
    fi
    say "installing $UNIT (starts StyleCam at boot)"
    unit="[Unit]
Description=StyleCam live face stylization
After=network-online.target nvargus-daemon.service
Wants=network-online.target

[Service]
User=$(id -un)
WorkingDirectory=$HOME
Environment=PYTHONUNBUFFERED=1
ExecStart=/bin/sh -c 'exec $VENV/bin/python -m app serve --source $SOURCE --port $PORT --token \"\$(cat $TOKEN_FILE)\"'
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target"
    if [ "$DRY_RUN" = 1 ]; then
        printf '%s\n' "$unit"
    else
        printf '%s\n' "$unit" | sudo tee "$UNIT" >/dev/null
    fi
    run sudo systemctl daemon-reload
    run sudo systemctl enable --now stylecam.service
    say "StyleCam runs now and at every boot: open http://$(hostname -I 2>/dev/null | cut -d' ' -f1):$PORT/?token=\$(cat $TOKEN_FILE) from a laptop on the same network (journalctl -u stylecam -f shows its log)"
fi
