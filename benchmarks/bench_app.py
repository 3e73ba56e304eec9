"""Live webcam frames per second of ``fercsv app``, end to end in headless Chromium, beside the
Python-only rate of the same per-frame work; and the memory of video timelines, short vs long clip.

The browser figures are what a person sees, counted on the page's own clock while the fake camera
shows scikit-image's astronaut at 640x480: the time from pressing Start camera (the button found by
its role and name, as a person finds it) to a label drawn over the face, analysed frames per second
(answers with boxes drawn over the video) and the video's own frames per second. The old live path
(Gradio's image stream, the picture annotated on the server; the app at git revision --baseline)
runs in the same run, after the new one, for the ratio.
Usage: python benchmarks/bench_app.py [--model MODEL.onnx] [--seconds 10] [--screenshot docs/app.png]
"""
import argparse
import base64
import json
import os
import re
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
ROOT = Path(__file__).resolve().parents[1]
#: A revision with the old live path (Gradio's image stream, annotated on the server), the one
#: whose figure the README gave.
BASELINE = "39cfbb8"


def camera_frame():
    from skimage import data

    frame = np.full((480, 640, 3), 60, np.uint8)
    frame[:, 64:576] = cv2.resize(data.astronaut(), (512, 480))  # RGB, as the browser sends it
    return frame


def python_rate(model, seconds, *, follow):
    """Frames/s of the live tab's per-frame server work (decode the page's small JPEG, detect,
    crop, predict, JSON) in a loop; ``follow``: as the page asks, the whole frame searched every
    LIVE_FULL_SCAN_EVERY frames and only around the last face in between."""
    from fercsv.serve.app import LIVE_FULL_SCAN_EVERY, LIVE_QUALITY, LIVE_WIDTH, frame_faces

    small = cv2.resize(cv2.cvtColor(camera_frame(), cv2.COLOR_RGB2BGR), (LIVE_WIDTH, LIVE_WIDTH * 3 // 4),
                       interpolation=cv2.INTER_AREA)
    jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, round(LIVE_QUALITY * 100)])[1]
    url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    near = [f["box"] for f in frame_faces(model, url)["faces"]]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        full = not follow or n % LIVE_FULL_SCAN_EVERY == 0
        json.dumps(frame_faces(model, url, near=None if full else near))
        n += 1
    return n / (time.perf_counter() - t0)


def write_camera(workdir):
    cam = Path(workdir) / "camera.y4m"
    bgr = cv2.cvtColor(camera_frame(), cv2.COLOR_RGB2BGR)
    with open(cam, "wb") as fh:
        fh.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            fh.write(b"FRAME\n" + cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return cam


def start_app(model, *, package_dir=None):
    """``fercsv app MODEL`` on a free port, from ``package_dir`` (default: the fercsv this script
    imports, not whichever one is installed); returns (process, url)."""
    import fercsv

    package_dir = package_dir or Path(fercsv.__file__).resolve().parents[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(package_dir))
    server = subprocess.Popen([sys.executable, "-m", "fercsv", "app", str(model), "--port", str(port),
                               "--no-browser"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True, env=env, cwd=package_dir)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return server, url
        except OSError:
            time.sleep(0.5)
    stop_app(server)
    raise SystemExit(f"the app did not start on {url}")


def stop_app(server):
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(10)


def open_page(p, url, cam):
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={cam}"])
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(url)
    return browser, page


#: Answers drawn over the video so far, and the page's clock.
COUNT = "() => [+document.querySelector('#live .fercsv-live').dataset.frames, performance.now()]"
#: Frames the <video> has decoded so far (Chromium counts them for any playing video).
VIDEO_FRAMES = "() => document.querySelector('#live video').getVideoPlaybackQuality().totalVideoFrames"


#: The live overlay's accessible name once it draws a label over a face ("happy 87%").
LABEL = re.compile(r"^[\w-]+ \d+%")


def overlay_rate(model, seconds, cam, screenshot=None):
    """The live tab now: (analysed frames/s, video frames/s, seconds from the click to the first
    label over the face) seen in the page."""
    from playwright.sync_api import expect, sync_playwright

    server, url = start_app(model)
    try:
        with sync_playwright() as p:
            browser, page = open_page(p, url, cam)
            live = page.get_by_role("tabpanel")
            start = live.get_by_role("button", name="Start camera")
            start.wait_for()  # the page shows it; a person clicks it then
            clicked = time.perf_counter()
            start.click()
            expect(live.get_by_role("img", name=LABEL)).to_be_visible(timeout=120_000)
            first_label = time.perf_counter() - clicked
            page.wait_for_timeout(2000)  # warm-up
            (n0, t0), video0 = page.evaluate(COUNT), page.evaluate(VIDEO_FRAMES)
            page.wait_for_timeout(seconds * 1000)
            (n1, t1), video1 = page.evaluate(COUNT), page.evaluate(VIDEO_FRAMES)
            if screenshot:
                save_screenshot(page, screenshot)
            browser.close()
        return (n1 - n0) / ((t1 - t0) / 1000), (video1 - video0) / ((t1 - t0) / 1000), first_label
    finally:
        stop_app(server)


def stream_rate(model, seconds, cam, package_dir):
    """The old live tab (Gradio's image stream, annotated on the server): frames/s arriving in the page."""
    from playwright.sync_api import sync_playwright

    server, url = start_app(model, package_dir=package_dir)
    try:
        with sync_playwright() as p:
            browser, page = open_page(p, url, cam)
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
            browser.close()
        return (len(f) - 1) / ((f[-1][1] - f[0][1]) / 1000) if len(f) > 1 else 0.0
    finally:
        stop_app(server)


def baseline_package(rev, workdir):
    """The fercsv package as it was at git revision ``rev``, extracted under ``workdir``; or None."""
    out = Path(workdir) / f"fercsv-{rev}"
    out.mkdir()
    try:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "fercsv"], capture_output=True,
                             check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=tar, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out


def save_screenshot(page, path):
    """The README's picture: the live tab, 960 px wide, 128 colours."""
    from PIL import Image

    shot = Path(path).with_suffix(".full.png")
    page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 1280, "height": 700})
    img = Image.open(shot).convert("RGB").resize((960, 525), Image.LANCZOS)
    img.quantize(colors=128, dither=Image.Dither.NONE).save(path, optimize=True)
    shot.unlink()


def load_note():
    return f"load {os.getloadavg()[0]:.1f}"


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
    from fercsv.serve.video import predict_video

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
    ap.add_argument("--baseline", default=BASELINE, help="git revision of the old live path ('' to skip)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of new then old in the browser")
    ap.add_argument("--live-only", action="store_true", help="skip the video memory figures")
    args = ap.parse_args()
    import fercsv
    from fercsv.serve.app import load_app_model

    model_path = args.model or fercsv.pretrained.path()
    model = load_app_model(model_path)
    load = os.getloadavg()
    print(f"# {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} at start; model {model_path}")
    with tempfile.TemporaryDirectory() as tmp:
        whole = python_rate(model, args.seconds, follow=False)
        figure("live: per-frame work in Python", whole, "frames/s", note="decode 320-px JPEG, detect, predict")
        py = python_rate(model, args.seconds, follow=True)
        figure("live: same, following the face", py, "frames/s", py / whole, versus="whole frame",
               note="whole frame every 10th")
        cam = write_camera(tmp)
        old_dir = baseline_package(args.baseline, tmp) if args.baseline else None
        new, old = [], []
        for r in range(args.repeat):
            shot = args.screenshot if r == args.repeat - 1 else None
            new.append(overlay_rate(model_path, args.seconds, cam, shot) + (load_note(),))
            figure("live: in Chromium, click to first label", new[-1][2] * 1000, "ms", note=new[-1][3])
            figure("live: in Chromium, overlay (new)", new[-1][0], "frames/s", new[-1][0] / py,
                   versus="Python only", note=f"analysed; video {new[-1][1]:.1f} frames/s; {new[-1][3]}")
            if old_dir:
                old.append((stream_rate(model_path, args.seconds, cam, old_dir), load_note()))
                figure(f"live: in Chromium, stream ({args.baseline})", old[-1][0], "frames/s",
                       new[-1][0] / max(old[-1][0], 1e-9), versus="old", note=f"annotated on the server; {old[-1][1]}")
        if len(new) > 1:
            best_new, best_old = max(n[0] for n in new), max([o[0] for o in old] or [0])
            figure("live: in Chromium, overlay, best", best_new, "frames/s", best_new / best_old if best_old else None,
                   versus="old best")
        if args.live_only:
            return
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
