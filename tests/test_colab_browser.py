"""The Colab JavaScript runs for real: the stand-in google.colab evaluates it in headless Chromium
with a fake camera fed from a real face photo (scikit-image's astronaut)."""
import sys

import cv2
import pytest

import fercsv
from fercsv.serve import colab
from fercsv.vision.faces import detect_faces
from fakecolab_env import astronaut_camera, use_fakecolab

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def camera_file(tmp_path_factory, astronaut_bgr):
    return astronaut_camera(tmp_path_factory.mktemp("cam") / "astronaut.y4m", astronaut_bgr)


@pytest.fixture
def fake_colab(monkeypatch, camera_file):
    """Start the stand-in Colab with a camera ("denied", "none" or the astronaut) and a stop rule."""
    def start(camera=camera_file, stop=None):
        settings = {"camera": camera}
        if stop:
            settings["stop"] = stop
        return use_fakecolab(monkeypatch, **settings)

    yield start
    out = sys.modules.get("google.colab.output")
    if out is not None:
        out.reset()


def only_the_cell_is_left(out):
    return out.measure("#fercsv-photo, #fercsv-stream, video, canvas, img") == []


def test_take_photo_returns_the_face_and_sizes_the_frame(fake_colab, tmp_path):
    google_colab = fake_colab()
    photo = colab.take_photo(filename=tmp_path / "photo.jpg", quality=0.9)
    assert photo.shape == (480, 640, 3)
    boxes = detect_faces(photo)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 200 < x + w / 2 < 420 and w > 60  # the astronaut's face, where the camera shows it
    assert cv2.imread(str(tmp_path / "photo.jpg")).shape == photo.shape
    assert only_the_cell_is_left(google_colab.output)  # the widget removed itself
    heights = google_colab.output.page_state()["iframeHeights"]
    assert heights and heights[-1] >= 480  # frame grown to show the video once it played


def test_stream_overlay_covers_exactly_the_video(fake_colab):
    out = fake_colab().output
    assert out.eval_js(colab.script("webcam_stream") + "\nfercsvStartStream()") == "ok"
    heights = out.page_state()["iframeHeights"]
    assert heights and heights[-1] > 480  # set after the video started: video plus the Stop bar
    frame = colab.data_url_to_image(out.eval_js('fercsvStreamFrame("", "")'))
    overlay = colab.overlay_png(frame.shape, [])
    out.eval_js(colab._call("fercsvStreamFrame", overlay, "1.0 frames/s"))
    (video,), (img,) = out.measure("#fercsv-stream video"), out.measure("#fercsv-stream img")
    assert (round(video["width"]), round(video["height"])) == (640, 480)
    for key in ("x", "y", "width", "height"):
        assert abs(video[key] - img[key]) <= 1, (key, video, img)
    assert out.measure("#fercsv-stream button")  # a Stop button
    out.eval_js("fercsvStopStream()")
    assert only_the_cell_is_left(out)


@pytest.mark.tensorflow
def test_webcam_emotions_streams_frames_with_overlay(fake_colab, tiny_run):
    out = fake_colab().output
    report = colab.webcam_emotions(tiny_run, max_frames=3)
    assert report.frames == 3 and report.frames_with_face == 3 and report.fps > 0
    assert report.last[0].label in fercsv.FER2013_LABELS
    assert "frames/s" in str(report)
    assert only_the_cell_is_left(out)  # stopped and cleaned up


@pytest.mark.tensorflow
@pytest.mark.parametrize("how", ["button", "video"])
def test_stop_button_or_click_ends_the_stream(fake_colab, tiny_run, how):
    fake_colab(stop=f"2:{how}")
    report = colab.webcam_emotions(tiny_run, max_frames=50)
    assert report.frames == 2


@pytest.mark.tensorflow
@pytest.mark.parametrize("camera, reason, hint", [
    ("denied", "NotAllowedError", "allow camera access"),
    ("none", "NotFoundError", "check that a camera is connected"),
])
def test_denied_or_missing_camera_is_one_line_and_leaves_nothing(fake_colab, tiny_run, camera, reason, hint):
    out = fake_colab(camera=camera).output
    with pytest.raises(fercsv.FercsvError, match=rf"camera is not available \({reason}\); {hint}") as err:
        colab.take_photo()
    assert "\n" not in str(err.value)
    assert only_the_cell_is_left(out)
    with pytest.raises(fercsv.FercsvError, match=rf"camera is not available \({reason}\); {hint}"):
        colab.webcam_emotions(tiny_run)
    assert only_the_cell_is_left(out)
    assert out.eval_js("window.fercsvStream === null")


def test_register_callback_is_reached_from_the_page(fake_colab):
    out = fake_colab().output
    seen = []
    out.register_callback("fercsv.test", lambda a, b=0: seen.append((a, b)) or a + b)
    answer = out.eval_js("google.colab.kernel.invokeFunction('fercsv.test', [2], {b: 3})"
                         ".then(r => r.data['application/json'])")
    assert answer == 5 and seen == [(2, 3)]


def test_drive_mount_and_secrets(fake_colab, tmp_path, monkeypatch):
    drive = tmp_path / "my-drive"
    drive.mkdir()
    (drive / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    monkeypatch.setenv("FAKECOLAB_DRIVE", str(drive))
    monkeypatch.setattr(colab, "MOUNTED", None)  # restored to "not mounted" after the test
    fake_colab()
    my_drive = colab.mount_drive(tmp_path / "content" / "drive")
    assert my_drive == f"{tmp_path}/content/drive/MyDrive" and colab.MOUNTED == my_drive
    assert len(fercsv.read_csv(f"{my_drive}/fer2013.csv")) == 0
    assert "Google Drive: mounted at" in str(fercsv.environment.describe(print_it=False))


def test_outside_colab_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", None)
    monkeypatch.setitem(sys.modules, "google.colab.output", None)
    with pytest.raises(colab.NotInColabError, match="needs Google Colab"):
        colab.take_photo()
    with pytest.raises(colab.NotInColabError):
        colab.mount_drive()
