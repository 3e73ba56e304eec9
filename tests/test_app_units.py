"""The app's Python side without a browser: it runs on onnxruntime alone (no TensorFlow), and a missing
Gradio or a bad model is one line from the CLI."""
import base64
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

import fercsv
from fercsv.serve.app import analyze_photo, analyze_video, decode_frame, frame_faces
from helpers import run_cli
from test_video import _onnx_path

#: Makes ``import NAME`` fail in a child Python, as on a machine without those packages.
BLOCK = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in BLOCKED:
                raise ImportError(f"No module named {name!r} (blocked by the test)")
    sys.meta_path.insert(0, Block())
""")


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory, tiny_run):
    return _onnx_path(tmp_path_factory, tiny_run)


def test_app_predicts_on_onnxruntime_alone_without_tensorflow(onnx_model, astronaut_bgr, tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), astronaut_bgr)
    script = BLOCK.replace("BLOCKED", "{'tensorflow', 'keras', 'tf2onnx'}") + textwrap.dedent(f"""
        import base64, cv2, numpy as np
        import fercsv.serve.app as app
        blocks = app.build_app({str(onnx_model)!r})
        model = app.load_app_model({str(onnx_model)!r})
        image, probs, text = app.analyze_photo(model, {str(photo)!r})
        jpeg = cv2.imencode(".jpg", cv2.resize(cv2.imread({str(photo)!r}), (320, 240)))[1].tobytes()
        live = app.frame_faces(model, "data:image/jpeg;base64," + base64.b64encode(jpeg).decode())
        assert image.shape == (512, 512, 3) and live["width"] == 320, (image.shape, live)
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        print("OK", text, "|", live["faces"][0]["label"])
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("OK face 0: ")


def test_missing_gradio_is_one_line_naming_the_extra(onnx_model):
    script = BLOCK.replace("BLOCKED", "{'gradio'}") + textwrap.dedent(f"""
        from fercsv.cli import main
        sys.exit(main(["app", {str(onnx_model)!r}, "--no-browser"]))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "pip install 'fercsv[app]'" in r.stderr


def test_bad_model_and_port_are_one_line(tmp_path):
    r = run_cli("app", tmp_path / "missing.onnx", "--no-browser")
    assert r.returncode == 1 and r.stderr.startswith("fercsv: error: ") and r.stderr.count("\n") == 1
    assert "missing.onnx" in r.stderr
    r = run_cli("app", "--help")
    assert r.returncode == 0 and "--no-browser" in r.stdout and "example:" in r.stdout


def test_handlers_on_real_files(onnx_model, astronaut_bgr, tmp_path):
    model = fercsv.load_model(onnx_model)
    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), astronaut_bgr)
    image, probs, text = analyze_photo(model, {"path": str(photo), "orig_name": "me.png"})
    assert image.shape == astronaut_bgr.shape and sum(probs.values()) == pytest.approx(1, abs=1e-3)
    assert not np.array_equal(image[..., ::-1], astronaut_bgr)  # a box was drawn
    (tmp_path / "x.jpg").write_text("text")
    with pytest.raises(fercsv.BadInputError, match="^me.jpg: not an image"):
        analyze_photo(model, {"path": str(tmp_path / "x.jpg"), "orig_name": "me.jpg"})
    with pytest.raises(fercsv.BadInputError, match="no video given"):
        analyze_video(model, None, tmp_path)
    (tmp_path / "v.mp4").write_bytes(b"")
    with pytest.raises(fercsv.BadInputError, match="^holiday.mp4: the file is empty"):
        analyze_video(model, {"path": str(tmp_path / "v.mp4"), "orig_name": "holiday.mp4"}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "v.mp4", "x.jpg"]  # nothing left over
    # a live frame: a JPEG data URL from the page, or an array; boxes in the frame's own pixels
    small = cv2.resize(astronaut_bgr, (320, 320))
    url = "data:image/jpeg;base64," + base64.b64encode(cv2.imencode(".jpg", small)[1]).decode()
    assert decode_frame(url).shape == (320, 320)
    live = frame_faces(model, url)
    (face,) = live["faces"]
    assert face["label"] in fercsv.FER2013_LABELS and len(face["probabilities"]) == 7
    assert frame_faces(model, np.full((240, 320), 128, np.uint8)) == {"width": 320, "height": 240, "faces": []}
    # following the face: only a window around the last box is searched, and finds the same face
    (followed,) = frame_faces(model, url, near=[face["box"], face["box"]])["faces"]
    assert followed["label"] == face["label"]
    assert np.abs(np.subtract(followed["box"], face["box"])).max() <= 6
    assert frame_faces(model, url, near=[[0, 250, 40, 40]])["faces"] == []  # nobody in that corner
    for near in ([[1, 2, 3]], "everywhere", [[0, 0, 9, 9]] * 11):
        with pytest.raises(fercsv.BadInputError, match="'near' must list at most 10 boxes"):
            frame_faces(model, url, near=near)
    for bad, says in [("hello", "must be a JPEG or PNG data URL"), ("data:image/png;base64,%%%", "not an image"),
                      ("data:image/jpeg;base64," + "A" * 2_000_000, "must be a JPEG or PNG data URL")]:
        with pytest.raises(fercsv.BadInputError, match=says):
            decode_frame(bad)


def test_app_shows_inline_in_a_notebook_cell(onnx_model):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"from fercsv import launch_app\nurl = launch_app({str(onnx_model)!r})"),
                nbformat.v4.new_code_cell("import urllib.request\n"
                                          "print(urllib.request.urlopen(url, timeout=30).status, url)")]
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    shown = [o for o in nb.cells[0].outputs if o.get("output_type") == "display_data"]
    assert shown and "<iframe" in shown[0]["data"]["text/html"]
    assert "fercsv app at http://127.0.0.1:" in "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "".join(o.get("text", "") for o in nb.cells[1].outputs).startswith("200 http://127.0.0.1:")
