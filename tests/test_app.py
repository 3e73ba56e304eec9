"""The browser app as a person uses it: the real server on a free local port, headless Chromium with a
fake camera showing the astronaut, photo and video uploads through the page's own file inputs.
The live tab is driven by what a person sees: the tab and the button found by their role and visible
name, clicked, and the label read where it is drawn, over the face.

Set FERCSV_APP_SCREENSHOT=path.png to keep the live-webcam screenshot (the README's picture).
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

import fercsv
from fakecolab_env import astronaut_camera
from helpers import free_port
from test_video import _onnx_path, write_clip

pytestmark = pytest.mark.browser

SERVER_START_SECONDS = 180
#: The server runs the fercsv these tests import (a checkout may differ from the installed one).
PACKAGE_ROOT = str(Path(fercsv.__file__).resolve().parents[1])
#: What the live overlay says it draws over a face: "happy 87%" (one per face, comma-separated).
LIVE_LABEL = re.compile(rf"^({'|'.join(fercsv.FER2013_LABELS)}) \d+%")
#: A person waits this long after pressing Start camera for a label over the face.
FIRST_LABEL_SECONDS = 10
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
                 if p and os.path.exists(p)), None)


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory, tiny_run):
    return _onnx_path(tmp_path_factory, tiny_run)


def start_server(args, log_path):
    """Start ``fercsv app`` in its own process group; returns (process, url) once it answers."""
    port = free_port()
    log = open(log_path, "w")
    path = os.pathsep.join([PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", GRADIO_ANALYTICS_ENABLED="False", PYTHONPATH=path)
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

        def open_page(url, wait_until="load", **kw):
            browser = _browser(p, files, **kw)
            browsers.append(browser)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(60_000)
            page.goto(url, wait_until=wait_until)
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


def _green(shot):
    """Pixels of the overlay's green (boxes and label backgrounds) in a BGR screenshot."""
    return (shot[..., 1] > 150) & (shot[..., 0] < 90) & (shot[..., 2] < 90)


def test_live_webcam_as_a_person_uses_it(server, page_of, tmp_path):
    """Open the page, pick the Live webcam tab, press Start camera (the camera is allowed): within
    FIRST_LABEL_SECONDS a label such as "happy 87%" is drawn over the astronaut's face, and the page
    says how many frames it analyses per second. Stop camera clears the picture."""
    from playwright.sync_api import expect

    page = page_of(server)
    page.get_by_role("tab", name="Live webcam").click()
    live = page.get_by_role("tabpanel")  # the open tab's panel (the others are hidden)
    status = live.get_by_role("status")
    expect(status).to_have_text("camera off")
    clicked = time.monotonic()
    live.get_by_role("button", name="Start camera").click()
    # the picture over the video says what it draws; wait for a label as a person would
    overlay = live.get_by_role("img", name=LIVE_LABEL)
    expect(overlay).to_be_visible(timeout=FIRST_LABEL_SECONDS * 1000)
    first_label = time.monotonic() - clicked
    label = overlay.get_attribute("aria-label").split(",")[0]
    # ... and it is drawn where the face is: a green label background with white letters, above the
    # green box, in the middle top of the video (the astronaut's face); a screenshot, as seen
    shot = cv2.imdecode(np.frombuffer(overlay.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    h, w = shot.shape[:2]
    green = _green(shot)
    per_row = green.sum(axis=1)
    wide = np.nonzero(per_row > max(30, 0.3 * per_row.max()))[0]  # the filled label, the box's edges
    runs = np.split(wide, np.nonzero(np.diff(wide) > 1)[0] + 1)
    rows = max(runs, key=len)  # the label: far thicker than a 2-3 pixel edge
    assert len(rows) >= 10, f"no label drawn over the video ({label!r} announced)"
    band = green[rows.min():rows.max() + 1]
    xs = np.nonzero(band.any(axis=0))[0]
    assert 0.3 < xs.mean() / w < 0.7 and 0.05 < rows.mean() / h < 0.45
    letters = shot[rows.min():rows.max() + 1, xs.min():xs.max() + 1].min(axis=2) > 200
    assert letters.sum() > 30, "the label has no text in it"
    below = green[rows.max() + 1:, xs.min():xs.max() + 1]
    assert below.sum() > 100, "no box under the label"
    # the frames/s figure, as the page shows it below the video and in the corner
    page.wait_for_timeout(3000)
    text = status.inner_text()
    rates = re.search(r"analysed ([\d.]+) frames/s, video ([\d.]+) frames/s", text)
    assert rates and text.split()[0] in fercsv.FER2013_LABELS, text
    print(f"live webcam in the browser: {rates[1]} analysed frames/s, video {rates[2]} frames/s; "
          f"first label {first_label:.2f} s after the click ({label})")
    assert float(rates[1]) > 0
    shot = cv2.imdecode(np.frombuffer(overlay.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    assert (shot[: h // 10, : w // 5].min(axis=2) > 200).sum() > 20  # white "NN.N fps" top left
    # the bars beside the video: all 7 emotions, the largest face's first
    bars = [line for line in live.inner_text().splitlines() if re.fullmatch(r"\w+ \d+%", line.strip())]
    assert len(bars) == 7 and bars[0].split()[0] == text.split()[0]
    full = tmp_path / "app.png"
    page.screenshot(path=str(full))
    assert cv2.imread(str(full)).std() > 20
    if os.environ.get("FERCSV_APP_SCREENSHOT"):
        shutil.copy(full, os.environ["FERCSV_APP_SCREENSHOT"])
    # Stop camera turns the camera off and clears the picture
    live.get_by_role("button", name="Stop camera").click()
    expect(status).to_have_text("camera off")
    expect(live.get_by_role("img", name="camera off")).to_be_visible()
    assert not _green(cv2.imdecode(np.frombuffer(live.get_by_role("img").screenshot(), np.uint8),
                                   cv2.IMREAD_COLOR)).any()
    expect(live.get_by_role("button", name="Start camera")).to_be_enabled()


def test_live_webcam_press_start_before_the_page_settles(server, page_of):
    """The button pressed the moment it shows (no wait for the page's load): the label still comes."""
    from playwright.sync_api import expect

    page = page_of(server, wait_until="commit")
    page.get_by_role("button", name="Start camera").click()  # as soon as it can be clicked
    expect(page.get_by_role("img", name=LIVE_LABEL)).to_be_visible(timeout=FIRST_LABEL_SECONDS * 1000)


def test_live_webcam_only_the_button_reads_start_camera(server, page_of):
    """Looking for "Start camera" by its text finds the button alone: no inert words above it to click
    instead (clicking the first match of the text used to hit the instructions, and nothing started)."""
    from playwright.sync_api import expect

    page = page_of(server, camera=False)
    page.get_by_role("button", name="Start camera").wait_for()
    expect(page.get_by_text("Start camera")).to_have_role("button")  # one match, or it fails


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
    from playwright.sync_api import expect

    for kw, expected in [({"allow": False}, "The camera is blocked (NotAllowedError)"),
                         ({"camera": False, "allow": True}, "No camera found (NotFoundError)")]:
        page = page_of(server, **kw)
        live = page.get_by_role("tabpanel")
        live.get_by_role("button", name="Start camera").click()
        message = live.get_by_role("alert")  # shown only once it has something to say
        expect(message).to_be_visible(timeout=30_000)
        assert message.inner_text().startswith(expected)
        assert live.get_by_role("status").inner_text().startswith("camera not started")
        expect(live.get_by_role("button", name="Start camera")).to_be_enabled()
        expect(live.get_by_role("img", name="camera off")).to_be_attached()
