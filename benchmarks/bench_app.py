"""Live webcam frames per second of ``fercsv app``, end to end in headless Chromium, beside the
Python-only rate of the same per-frame work; and the memory of video timelines, short vs long clip.

The browser figure is what a person sees: annotated frames arriving in the page per second (the
fake camera shows scikit-image's astronaut at 640x480), counted on the page's own clock.
Usage: python benchmarks/bench_app.py [--model MODEL.onnx] [--seconds 10] [--screenshot docs/app.png]
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import figure  # noqa: E402

CHROMIUM = "/usr/lib/chromium/chromium"


def camera_frame():
    from skimage import data

    frame = np.full((480, 640, 3), 60, np.uint8)
    frame[:, 64:576] = cv2.resize(data.astronaut(), (512, 480))  # RGB, as the browser sends it
    return frame


def python_rate(model, seconds):
    """Frames/s of the app's per-frame work (detect, predict, draw, JPEG for the page) in a loop."""
    from fercsv.app import FrameRate, frame_html, live_frame

    frame, meter, n = camera_frame(), FrameRate(), 0
    live_frame(model, frame, meter)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        shown, meter, text = live_frame(model, frame, meter)
        frame_html(shown, number=n, fps=meter.rate, text=text)
        n += 1
    return n / (time.perf_counter() - t0)


def browser_rate(model, seconds, workdir, screenshot=None):
    """Frames/s arriving in the page, and what the server measured between frames."""
    from playwright.sync_api import sync_playwright

    cam = Path(workdir) / "camera.y4m"
    bgr = cv2.cvtColor(camera_frame(), cv2.COLOR_RGB2BGR)
    with open(cam, "wb") as fh:
        fh.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            fh.write(b"FRAME\n" + cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "fercsv", "app", str(model), "--port", str(port),
                               "--no-browser"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={cam}"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url)
            page.get_by_text("Click to Access Webcam").click()
            page.locator("#live-camera button[aria-label='capture photo']").click()
            page.wait_for_selector("#live-output img.fercsv-live", timeout=120_000)
            page.wait_for_timeout(2000)  # warm-up
            page.evaluate("""() => { window.__f = []; const root = document.querySelector('#live-output');
                new MutationObserver(() => { const img = root.querySelector('img.fercsv-live');
                  const n = img ? +img.dataset.frame : -1, f = window.__f;
                  if (n >= 0 && (!f.length || f[f.length - 1][0] !== n)) f.push([n, performance.now()]); })
                .observe(root, {attributes: true, childList: true, subtree: true}); }""")
            page.wait_for_timeout(seconds * 1000)
            f = page.evaluate("window.__f")
            server_fps = float(page.locator("#live-output img.fercsv-live").get_attribute("data-fps"))
            if screenshot:  # the README's picture: the live row, 960 px wide, 128 colours
                from PIL import Image

                page.screenshot(path=str(Path(workdir) / "shot.png"), clip={"x": 0, "y": 0, "width": 1280,
                                                                            "height": 700})
                img = Image.open(Path(workdir) / "shot.png").convert("RGB").resize((960, 525), Image.LANCZOS)
                img.quantize(colors=128, dither=Image.Dither.NONE).save(screenshot, optimize=True)
            browser.close()
        return (len(f) - 1) / ((f[-1][1] - f[0][1]) / 1000), server_fps
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


def make_clip(frames, workdir):
    clip = Path(workdir) / f"clip{frames}.mp4"
    face = cv2.resize(cv2.cvtColor(camera_frame(), cv2.COLOR_RGB2BGR), (320, 240))
    vw = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for i in range(frames):
        vw.write(np.roll(face, i % 40, axis=1))
    vw.release()
    return clip


def video_peak_memory(model, clip, out_dir, **options):
    """Peak Python-side memory (tracemalloc, MiB) of predict_video on ``clip``."""
    from fercsv.video import predict_video

    tracemalloc.start()
    predict_video(model, clip, out_dir, progress=False, **options)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help=".onnx/RUN_DIR (default: the shipped pretrained model)")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--frames", type=int, default=150, help="short clip; the long one has 4x as many")
    ap.add_argument("--screenshot", default=None, help="save the live page as a small PNG (docs/app.png)")
    args = ap.parse_args()
    import fercsv
    from fercsv.app import load_app_model

    model_path = args.model or fercsv.pretrained.pretrained_path()
    model = load_app_model(model_path)
    load = os.getloadavg()
    print(f"# {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} at start; model {model_path}")
    with tempfile.TemporaryDirectory() as tmp:
        py = python_rate(model, args.seconds)
        figure("live: per-frame work in Python", py, "frames/s")
        seen, server = browser_rate(model_path, args.seconds, tmp, args.screenshot)
        figure("live: end to end in Chromium", seen, "frames/s", seen / py, versus="Python only",
               note=f"server saw {server:.1f} frames/s")
        clips = {n: make_clip(n, tmp) for n in (10, args.frames, 4 * args.frames)}
        video_peak_memory(model, clips[10], Path(tmp) / "warm")  # first imports are not the video's
        for plot, what in ((False, "frames streamed"), (True, "with the timeline plot")):
            short = video_peak_memory(model, clips[args.frames], Path(tmp) / f"s{plot}", plot=plot)
            long = video_peak_memory(model, clips[4 * args.frames], Path(tmp) / f"l{plot}", plot=plot)
            figure(f"video memory, {what}, {args.frames} fr", short, "MiB")
            figure(f"video memory, {what}, {4 * args.frames} fr", long, "MiB", long / short,
                   versus=f"{args.frames} frames")
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
