"""The Colab JavaScript runs for real: headless Chromium, a fake camera fed from a real face photo,
and a stand-in for google.colab.output.eval_js that evaluates the JavaScript in the page."""
import os
import shutil
import sys
import types

import cv2
import numpy as np
import pytest

import fercsv
from fercsv import colab
from fercsv.faces import detect_faces

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.path.exists(p)), None)


def write_y4m(path, frame_bgr, n_frames=10):
    """A YUV4MPEG2 (4:2:0) file showing ``frame_bgr``, for Chromium's fake camera."""
    h, w = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(n_frames):
            fh.write(b"FRAME\n" + i420)


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory, astronaut_bgr):
    frame = np.full((480, 640, 3), 60, np.uint8)
    frame[:, 64:576] = cv2.resize(astronaut_bgr, (512, 480))
    path = tmp_path_factory.mktemp("cam") / "astronaut.y4m"
    write_y4m(path, frame)
    return path


def _launch(playwright, camera_file, *, fake_ui=True):
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (the CI script does this)")
    args = ["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"]
    if fake_ui:
        args.append("--use-fake-ui-for-media-stream")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


class EvalJsInPage:
    """Stand-in for google.colab.output.eval_js: evaluate in the page, await the result.

    While a script waits, it clicks the Capture button as a user would, and can
    click the live video after a number of frames to stop a stream.
    """

    def __init__(self, page, *, click_video_after=None):
        self.page = page
        self.calls = []
        self.click_video_after = click_video_after

    def __call__(self, script, ignore_result=False, timeout_sec=None):
        self.calls.append(script)
        frames = sum(c.startswith("fercsvStreamFrame(") for c in self.calls)
        if script.startswith("fercsvStreamFrame(") and frames == (self.click_video_after or -1) + 1:
            box = self.page.locator("#fercsv-stream video").bounding_box()
            self.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.page.evaluate(
            """s => { window.__done = false;
                      Promise.resolve((0, eval)(s)).then(
                        v => { window.__result = v; window.__done = true; },
                        e => { window.__result = 'jserror:' + e; window.__done = true; }); }""", script)
        for _ in range(300):
            if self.page.evaluate("window.__done"):
                break
            button = self.page.query_selector("#fercsv-photo button")
            if button is not None and self.page.evaluate(
                    "() => { const v = document.querySelector('#fercsv-photo video');"
                    " return !!v && v.videoWidth > 0; }"):
                button.click()
            self.page.wait_for_timeout(100)
        result = self.page.evaluate("window.__result")
        if isinstance(result, str) and result.startswith("jserror:"):
            raise RuntimeError(result)
        return result


@pytest.fixture
def colab_page(camera_file, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    html = tmp_path / "cell.html"
    html.write_text("<!doctype html><html><body><p>output cell</p></body></html>")
    with sync_playwright() as p:
        browser = _launch(p, camera_file)
        page = browser.new_page()
        page.goto(html.as_uri())  # file:// is a secure context, as getUserMedia requires
        yield page, lambda **kw: _install(monkeypatch, EvalJsInPage(page, **kw))
        browser.close()


def _install(monkeypatch, eval_js):
    google = types.ModuleType("google")
    colab_pkg = types.ModuleType("google.colab")
    output = types.ModuleType("google.colab.output")
    output.eval_js = eval_js
    colab_pkg.output = output
    google.colab = colab_pkg
    for name, mod in (("google", google), ("google.colab", colab_pkg), ("google.colab.output", output)):
        monkeypatch.setitem(sys.modules, name, mod)
    return eval_js


def test_take_photo_in_browser_returns_the_face(colab_page, tmp_path):
    page, install = colab_page
    install()
    photo = colab.take_photo(filename=tmp_path / "photo.jpg", quality=0.9)
    assert photo.shape == (480, 640, 3)
    boxes = detect_faces(photo)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 200 < x + w / 2 < 420 and w > 60  # the astronaut's face, where the camera shows it
    saved = cv2.imread(str(tmp_path / "photo.jpg"))
    assert saved.shape == photo.shape
    assert page.query_selector("#fercsv-photo") is None  # the widget removed itself


@pytest.mark.tensorflow
def test_webcam_emotions_streams_frames_with_overlay(colab_page, tiny_run):
    page, install = colab_page
    eval_js = install()
    report = colab.webcam_emotions(tiny_run, max_frames=3)
    assert report.frames == 3 and report.frames_with_face == 3 and report.fps > 0
    assert report.last[0].label in fercsv.FER2013_LABELS
    frame_calls = [c for c in eval_js.calls if c.startswith("fercsvStreamFrame(")]
    assert len(frame_calls) == 3 and "data:image/png;base64," in frame_calls[-1]
    assert page.query_selector("#fercsv-stream") is None  # stopped and cleaned up


@pytest.mark.tensorflow
def test_click_on_video_stops_the_stream(colab_page, tiny_run):
    page, install = colab_page
    install(click_video_after=2)
    report = colab.webcam_emotions(tiny_run, max_frames=50)
    assert report.frames == 2


def test_denied_camera_gives_clear_error(camera_file, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    html = tmp_path / "cell.html"
    html.write_text("<!doctype html><html><body></body></html>")
    with sync_playwright() as p:
        browser = _launch(p, camera_file, fake_ui=False)
        context = browser.new_context()
        page = context.new_page()
        page.goto(html.as_uri())
        _install(monkeypatch, EvalJsInPage(page))
        with pytest.raises(fercsv.FercsvError, match="camera is not available \\(NotAllowedError\\)"):
            colab.take_photo()
        browser.close()


def test_outside_colab_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab.output", None)
    with pytest.raises(colab.NotInColabError, match="needs Google Colab"):
        colab.take_photo()
    with pytest.raises(colab.NotInColabError):
        colab.mount_drive()
