"""Regenerate fercsv_starter.ipynb from the cells below: python colab/build_notebook.py"""
import sys
from pathlib import Path

import nbformat as nbf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fercsv.core import project  # noqa: E402  (the one home of the project's public address)

CELLS = [
    ("md", f"""# fercsv starter: facial-expression recognition in one notebook

{project.BADGE}

Install, get FER-2013 (Kaggle, Google Drive, any URL, or built-in synthetic faces), inspect it, train a
48x48 CNN with checkpoints that survive a disconnect, evaluate, read faces in a photo and on the webcam,
export ONNX. Run the cells from top to bottom; the settings are in the first two code cells.

Home: {project.HOME}"""),
    ("code", f"""# 1. Install. INSTALL is the one setting: the package name (default), a git URL
#    ("fercsv[all] @ {project.GIT_REQUIREMENT}"), a wheel on Drive
#    ("/content/drive/MyDrive/fercsv-0.1.0-py3-none-any.whl"), or "skip" if fercsv is already installed.
INSTALL = "fercsv[all]"

import importlib.util
IN_COLAB = importlib.util.find_spec("google.colab") is not None
if IN_COLAB and INSTALL != "skip":
    if INSTALL.startswith("/content/drive/"):
        from google.colab import drive
        drive.mount("/content/drive")
    # Colab already has TensorFlow, numpy and OpenCV; fercsv's extras never replace them.
    %pip install -q "{{INSTALL}}"
import fercsv
RUNTIME = fercsv.environment.describe()   # fercsv, TensorFlow, Keras, device, GPU memory, Drive"""),
    ("code", """# 2. Settings.
# DATA: "kaggle:msambare/fer2013" (FER-2013 as train/ and test/ image folders, zipped), a Kaggle CSV
#   form such as "kaggle:deadskull7/fer2013", a file or folder on Drive
#   ("/content/drive/MyDrive/fer2013.csv", a .zip/.tar.gz of image folders, or a folder), any URL or
#   Drive share link, or "synthetic" (generated cartoon faces: runs anywhere, but cannot read real faces).
#   Kaggle needs your API token: add the Colab secrets KAGGLE_USERNAME and KAGGLE_KEY (key icon, left bar).
DATA = "kaggle:msambare/fer2013"
USE_DRIVE = False   # True: keep data, checkpoints and results on Google Drive (survive disconnects)
EPOCHS = 40
SMALL = False       # True: a quick run (few images, 2 epochs) that checks every cell works
from pathlib import Path
CONTENT = Path.cwd()   # /content in Colab
WORK = CONTENT / "fercsv"
if SMALL:
    EPOCHS = 2
print("data:", DATA, "| epochs:", EPOCHS, "| Drive:", USE_DRIVE)"""),
    ("md", "## Google Drive (optional)"),
    ("code", """if IN_COLAB and USE_DRIVE:
    MY_DRIVE = Path(fercsv.colab.mount_drive(CONTENT / "drive"))
    WORK = MY_DRIVE / "fercsv"
    print("working on Drive:", WORK)
else:
    print("Drive not used (set USE_DRIVE = True in Colab); working in", WORK)
WORK.mkdir(parents=True, exist_ok=True)"""),
    ("md", """## Data
A zip or tar.gz of image folders is read in place (nothing extracted) and becomes one CSV; a CSV (or a
zip holding one) is read directly."""),
    ("code", """REAL_DATA = DATA != "synthetic"
if not REAL_DATA:
    fercsv.synth(WORK / "faces", per_class=30 if SMALL else 300, seed=0)   # <split>/<label>/*.png
    SOURCE = WORK / "faces"
elif DATA.startswith("kaggle:"):
    SOURCE = fercsv.download(DATA, WORK / "downloads")
elif fercsv.data.download.is_url(DATA):
    SOURCE = fercsv.download(DATA, WORK / "downloads" / "data")
else:
    SOURCE = Path(DATA)    # a file or folder on Drive or on this machine
    if IN_COLAB and SOURCE.is_relative_to(CONTENT / "drive"):
        fercsv.colab.mount_drive(CONTENT / "drive")
if fercsv.data.archives.is_image_folder(SOURCE):
    CSV = WORK / "fer2013.csv"
    if not CSV.exists():
        print(fercsv.convert(SOURCE, CSV))
else:
    CSV = SOURCE
ds = fercsv.read_csv(CSV)
print(len(ds), "images of", ds.image_shape, "from", CSV)"""),
    ("md", "## Inspect: counts, blank images, duplicates, sample faces"),
    ("code", """print(fercsv.info(ds))
from fercsv.training.plots import plot_samples
from IPython.display import Image, display
display(Image(str(plot_samples(ds, WORK / "samples.png", per_class=8))))"""),
    ("md", "## Split (only if the data has no validation rows)"),
    ("code", """if not (ds.usage == "PublicTest").any():
    has_test = (ds.usage == "PrivateTest").any()
    ds = fercsv.split(ds, val=0.1, test=0.0 if has_test else 0.1, seed=0)   # existing test rows stay
print(ds.counts())"""),
    ("md", """## Train
Checkpoints, history and plots go to `RUN`. If the runtime disconnects, run this cell again:
training resumes at the last completed epoch."""),
    ("code", """RUN = WORK / "run"
result = fercsv.train(ds, RUN, epochs=EPOCHS, batch_size=32 if SMALL else 128)
print(result)
display(Image(str(RUN / "curves.png")))"""),
    ("md", "## Evaluate on the test split"),
    ("code", """report = fercsv.evaluate(RUN, ds, split="PrivateTest", tta="flip+zoom+rotate")
print(report)
display(Image(report.files["confusion"]))"""),
    ("md", """## Read faces in a photo
A model trained on synthetic faces cannot read real ones: then the photo and webcam cells use the
pretrained model shipped with fercsv (when this install has it)."""),
    ("code", """import cv2
from fercsv import annotate
from fercsv.data.synth import synth_photo
model = fercsv.load_model(RUN)
FACE_MODEL, note = fercsv.colab.face_model(model, trained_on_real_data=REAL_DATA and not SMALL)
print(note)
photo, truth = synth_photo(seed=1)
faces = fercsv.predict(model, photo)
for f in faces:
    print(f.box, f.label, f"{f.score:.0%}")
cv2.imwrite(str(WORK / "photo_pred.png"), annotate(photo, faces))
display(Image(str(WORK / "photo_pred.png")))"""),
    ("md", "## Webcam: one photo, then live emotions (Colab)"),
    ("code", """if IN_COLAB:
    shot = fercsv.colab.take_photo(WORK / "webcam.jpg")
    faces = fercsv.predict(FACE_MODEL, shot)
    print(faces or "no face found: face the camera in good light and run the cell again")
    cv2.imwrite(str(WORK / "webcam_pred.jpg"), annotate(shot, faces))
    display(Image(str(WORK / "webcam_pred.jpg")))
else:
    print("skipped: the webcam cells need Google Colab")"""),
    ("code", """if IN_COLAB:
    print(fercsv.colab.webcam_emotions(FACE_MODEL, max_seconds=10 if SMALL else 120))   # Stop ends it
else:
    print("skipped: the webcam cells need Google Colab")"""),
    ("md", "## Export to ONNX (verified against Keras with onnxruntime)"),
    ("code", """print(fercsv.export_onnx(RUN, WORK / "fer.onnx", data=ds))"""),
]


def build():
    nb = nbf.v4.new_notebook()
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "colab": {"provenance": []}, "accelerator": "GPU"})
    # Stable cell ids, so regenerating after a one-line edit gives a one-line diff.
    nb.cells = [(nbf.v4.new_markdown_cell if kind == "md" else nbf.v4.new_code_cell)(src, id=f"cell-{i:02d}")
                for i, (kind, src) in enumerate(CELLS)]
    out = Path(__file__).with_name("fercsv_starter.ipynb")
    nbf.write(nb, out)
    return out


if __name__ == "__main__":
    print(build())
