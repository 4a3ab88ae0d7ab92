"""Screenshots of the page for the README: the live page on a desktop and on a phone.

Starts StyleCam in this process on a video file, opens the page in headless Chromium (Debian's
`chromium`, driven by Playwright, as the browser test does), moves a few controls so the page shows
a face being edited, and writes PNGs.

    python scripts/screenshots.py --source ../shared/media/videos/selfie_webcam_10s.mp4
    python scripts/screenshots.py --source clip.mp4 --weights ffhq-256 --out docs

With `--weights ffhq-256` (the default; fetched once) the pictures show real StyleGAN2 faces. A
random-weight file (what a machine without the model can make) shows a featureless blur instead.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from app.composition import StyleCam, StyleCamConfig
from app.web.config import ServerConfig
from app.web.server import StyleCamServer

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "screenshot"
VIEWPORTS = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}
SETTLE_MS = 4000        # Time for the stream to show the edited face after the controls move.
SET_SLIDER = """([id, value]) => {
    const slider = document.getElementById(id);
    slider.value = value;
    slider.dispatchEvent(new Event("input", { bubbles: true }));
}"""


def main() -> None:
    args = parse_args()
    stylecam = StyleCam(StyleCamConfig(source=args.source, weights=args.weights, device=args.device,
                                       detector_model=args.detector_model))
    server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=TOKEN), stylecam)
    server.start_in_thread()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium,
                                                 args=["--headless", "--no-sandbox", "--disable-gpu"])

            for name, viewport in VIEWPORTS.items():
                context = browser.new_context(viewport=viewport)
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{server.port}/?token={TOKEN}")
                page.wait_for_selector("#slider-smile")
                page.fill("#seed", str(args.seed))
                page.press("#seed", "Tab")                     # A number field applies on change.
                page.evaluate(SET_SLIDER, ["slider-smile", args.smile])
                page.wait_for_timeout(SETTLE_MS)
                path = args.out / f"screenshot-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                print(path)
                context.close()
            browser.close()
    finally:
        server.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="video file (or camera) to show")
    parser.add_argument("--weights", default="ffhq-256", help="generator: registry name or file")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--detector-model", help="YuNet model file (default: the registry's)")
    parser.add_argument("--seed", type=int, default=7, help="face seed to show")
    parser.add_argument("--smile", type=float, default=0.6, help="smile slider value to show")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs")
    return parser.parse_args()


if __name__ == "__main__":
    main()
