"""The browser app as a person uses it: the real server on a free local port, headless Chromium with a
fake camera showing the astronaut, photo and video uploads through the page's own file inputs.

Set FERCSV_APP_SCREENSHOT=path.png to keep the live-webcam screenshot (the README's picture).
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest

import fercsv
from fakecolab_env import astronaut_camera
from helpers import free_port
from test_video import _onnx_path, write_clip

pytestmark = pytest.mark.browser

SERVER_START_SECONDS = 180
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
                 if p and os.path.exists(p)), None)


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory, tiny_run):
    return _onnx_path(tmp_path_factory, tiny_run)


def start_server(args, log_path):
    """Start ``fercsv app`` in its own process group; returns (process, url) once it answers."""
    port = free_port()
    log = open(log_path, "w")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "-m", "fercsv", "app", *map(str, args), "--port", str(port),
                             "--no-browser"], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    pytest.fail(f"the app did not start in {SERVER_START_SECONDS} s:\n{open(log_path).read()[-3000:]}")


def stop_server(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def server(onnx_model, tmp_path_factory):
    proc, url = start_server([onnx_model], tmp_path_factory.mktemp("app") / "server.log")
    yield url
    stop_server(proc)
    assert proc.returncode is not None


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut_bgr):
    d = tmp_path_factory.mktemp("files")
    astronaut_camera(d / "camera.y4m", astronaut_bgr)
    cv2.imwrite(str(d / "astronaut.png"), astronaut_bgr)
    cv2.imwrite(str(d / "wall.png"), np.full((200, 200, 3), 128, np.uint8))
    (d / "notes.txt").write_text("not a photo\n")
    (d / "broken.png").write_text("a PNG name, but text inside\n" * 20)
    small = cv2.resize(astronaut_bgr, (320, 320))
    write_clip(d / "clip.mp4", [small] * 8 + [np.full_like(small, 40)] * 2)
    (d / "fake.mp4").write_text("this is not a video\n" * 40)
    return d


def _browser(playwright, files, *, camera=True, allow=True):
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (the CI script does this)")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
            "--disable-component-update"]
    if camera:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={files / 'camera.y4m'}"]
    if allow:
        args.append("--use-fake-ui-for-media-stream")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


@pytest.fixture
def page_of(files):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browsers = []

        def open_page(url, **kw):
            browser = _browser(p, files, **kw)
            browsers.append(browser)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(60_000)
            page.goto(url)
            return page

        yield open_page
        for b in browsers:
            b.close()


def _error_text(page, expected):
    """The page's error messages once one of them contains ``expected`` (or after 30 s)."""
    try:
        page.wait_for_function("t => [...document.querySelectorAll('.toast-body')]"
                               ".some(e => e.innerText.includes(t))", arg=expected, timeout=30_000)
    except Exception:  # report what the page said instead
        pass
    return " | ".join(page.locator(".toast-body").all_inner_texts())


def _canvas_image(page, selector):
    """The pixels drawn on a <canvas> in the page, as a BGRA array."""
    src = page.evaluate("s => document.querySelector(s).toDataURL('image/png')", selector)
    raw = base64.b64decode(src.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)


def test_live_webcam_boxes_labels_and_frame_rate(server, page_of, tmp_path):
    page = page_of(server)
    live = page.locator("#live .fercsv-live")
    assert page.locator("#live .fercsv-live-status").inner_text() == "camera off"
    page.locator("#live button.fercsv-start").click()
    page.wait_for_function("() => +document.querySelector('#live .fercsv-live').dataset.frames >= 8",
                           timeout=90_000)
    # analysed frames arriving over the video, counted on the browser's own clock
    first = page.evaluate("() => [+document.querySelector('#live .fercsv-live').dataset.frames, performance.now()]")
    page.wait_for_timeout(3000)
    last = page.evaluate("() => [+document.querySelector('#live .fercsv-live').dataset.frames, performance.now()]")
    fps = (last[0] - first[0]) / ((last[1] - first[1]) / 1000)
    print(f"live webcam in the browser: {fps:.1f} analysed frames/s, "
          f"video {live.get_attribute('data-video-fps')} frames/s")
    assert last[0] > first[0] and float(live.get_attribute("data-fps")) > 0
    # the status line names the emotion and both rates
    status = page.locator("#live .fercsv-live-status").inner_text()
    assert status.split()[0] in fercsv.FER2013_LABELS and "analysed" in status and "frames/s" in status
    # the video plays under the overlay, and the overlay has a green box around the astronaut's face
    assert page.evaluate("() => document.querySelector('#live video').videoWidth") == 640
    drawn = _canvas_image(page, "#live canvas")
    h, w = drawn.shape[:2]
    green = (drawn[..., 3] > 200) & (drawn[..., 1] > 150) & (drawn[..., 0] < 90) & (drawn[..., 2] < 90)
    ys, xs = np.nonzero(green)
    assert len(xs) > 200 and 0.3 < xs.mean() / w < 0.7 and 0.05 < ys.mean() / h < 0.45
    # the fps figure is drawn in the top left corner (white text), and the bars list all 7 emotions
    assert (drawn[: h // 10, : w // 5, :3].min(axis=2) > 200).sum() > 20
    bars = page.locator("#live .fercsv-bar").all_inner_texts()
    assert len(bars) == 7 and bars[0].split()[0] == status.split()[0]
    shot = tmp_path / "app.png"
    page.screenshot(path=str(shot))
    assert cv2.imread(str(shot)).std() > 20
    if os.environ.get("FERCSV_APP_SCREENSHOT"):
        shutil.copy(shot, os.environ["FERCSV_APP_SCREENSHOT"])
    # Stop turns the camera off and clears the overlay
    page.locator("#live button.fercsv-start").click()
    assert page.locator("#live .fercsv-live-status").inner_text() == "camera off"
    assert page.evaluate("() => document.querySelector('#live video').srcObject") is None
    assert _canvas_image(page, "#live canvas")[..., 3].max() == 0


def _live_call(url, data):
    """Call the live tab's server function the way the page does (Gradio's component server)."""
    with urllib.request.urlopen(url + "config", timeout=30) as r:
        config = json.load(r)
    component = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "live")
    body = json.dumps({"data": data, "component_id": component, "fn_name": "live_faces",
                       "session_hash": "test"}).encode()
    request = urllib.request.Request(url + "gradio_api/component_server/", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.load(r)


def test_live_frames_over_http_good_and_bad(server, astronaut_bgr):
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(astronaut_bgr, (320, 320)))
    answer = _live_call(server, "data:image/jpeg;base64," + base64.b64encode(jpeg).decode())
    assert (answer["width"], answer["height"]) == (320, 320) and len(answer["faces"]) == 1
    face = answer["faces"][0]
    assert face["label"] in fercsv.FER2013_LABELS and sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-2)
    x, y, w, h = face["box"]
    assert 100 < x + w / 2 < 230 and 20 < y + h / 2 < 140
    # as the page asks between full scans: only around the face it knows
    near = _live_call(server, {"frame": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode(),
                               "near": [face["box"]]})
    assert [f["label"] for f in near["faces"]] == [face["label"]]
    # a frame that is no image, or no data URL, or nonsense boxes: one message, and the app keeps answering
    for bad in ("data:image/jpeg;base64,bm90IGFuIGltYWdl", "hello", 42, {"frame": None}):
        assert _live_call(server, bad)["error"].startswith("the live frame ")
    assert _live_call(server, {"frame": "data:image/jpeg;base64,AAAA", "near": "x"})["error"].startswith("the live")
    assert _live_call(server, {"frame": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode(),
                               "near": [[1, 2]]})["error"].startswith("'near' must list")
    assert _live_call(server, "data:image/jpeg;base64," + base64.b64encode(jpeg).decode())["faces"]


def test_photo_upload_probabilities_and_bad_photos(server, page_of, files):
    page = page_of(server, camera=False)
    page.get_by_role("tab", name="Photo").click()
    page.locator("#photo-input input[type=file]").set_input_files(str(files / "astronaut.png"))
    page.wait_for_function("() => document.querySelector('#photo-text textarea').value.length > 0")
    text = page.locator("#photo-text textarea").input_value()
    assert text.startswith("face 0: ") and text.split()[2] in fercsv.FER2013_LABELS
    bars = page.locator("#photo-probs").inner_text()
    assert all(name in bars for name in fercsv.FER2013_LABELS) and bars.count("%") == 7
    src = page.locator("#photo-output img").get_attribute("src")
    with urllib.request.urlopen(src) as r:
        annotated = cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)
    assert annotated.shape == (512, 512, 3)
    # a photo without a face, an image name holding text, a file that is no image: one message each
    for name, expected in [("wall.png", "wall.png: no face found"),
                           ("broken.png", "broken.png: not an image fercsv can read"),
                           ("notes.txt", "Invalid file type: notes.txt")]:
        page.reload()
        page.get_by_role("tab", name="Photo").click()
        page.locator("#photo-input input[type=file]").set_input_files(str(files / name))
        if name == "wall.png":
            page.wait_for_function("() => document.querySelector('#photo-text textarea').value.length > 0")
            assert page.locator("#photo-text textarea").input_value().startswith(expected)
        else:
            assert expected in _error_text(page, expected)
    # the app still answers
    page.reload()
    page.get_by_role("tab", name="Photo").click()
    page.locator("#photo-input input[type=file]").set_input_files(str(files / "astronaut.png"))
    page.wait_for_function("() => document.querySelector('#photo-text textarea').value.startsWith('face 0')")


def test_video_upload_annotated_video_timeline_and_emotion(server, page_of, files):
    page = page_of(server, camera=False)
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(files / "fake.mp4"))
    page.locator("#video-run").click()
    expected = "fake.mp4: not a video OpenCV can read"
    assert expected in _error_text(page, expected)
    page.reload()
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(files / "clip.mp4"))
    page.locator("#video-run").click()
    page.wait_for_function("() => document.querySelector('#video-text textarea').value.length > 0",
                           timeout=120_000)
    text = page.locator("#video-text textarea").input_value()
    assert text.startswith("clip.mp4: ") and "8/10 frames with a face" in text
    assert "person 0: " in text
    emotion = text.split()[1]
    assert emotion in fercsv.FER2013_LABELS
    assert emotion in page.locator("#video-probs").inner_text()
    video_src = page.locator("#video-output video").get_attribute("src")
    assert video_src.endswith("annotated.webm")
    # the browser plays the annotated video: it has a duration and a picture
    page.wait_for_function("() => { const v = document.querySelector('#video-output video');"
                           " return v && v.readyState >= 1 && v.duration > 0.5; }")
    with urllib.request.urlopen(page.locator("#video-timeline img").get_attribute("src")) as r:
        plot = cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)
    assert plot is not None and plot.shape[1] > 500


def test_camera_denied_or_absent_says_so_in_the_page(server, page_of):
    for kw, expected in [({"allow": False}, "The camera is blocked (NotAllowedError)"),
                         ({"camera": False, "allow": True}, "No camera found (NotFoundError)")]:
        page = page_of(server, **kw)
        page.locator("#live button.fercsv-start").click()
        page.wait_for_function("() => document.querySelector('#fercsv-camera-message').textContent.length > 0",
                               timeout=30_000)
        assert page.locator("#fercsv-camera-message").inner_text().startswith(expected)
        assert page.locator("#fercsv-camera-message").is_visible()
        assert page.locator("#live .fercsv-live-status").inner_text().startswith("camera not started")
        assert page.locator("#live button.fercsv-start").is_enabled()
