"""Regenerate fercsv_starter.ipynb from the cells below: python colab/build_notebook.py"""
from pathlib import Path

import nbformat as nbf

REPO = "https://github.com/fercsv/fercsv"
BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/fercsv/fercsv/blob/main/colab/fercsv_starter.ipynb)")

CELLS = [
    ("md", f"""# fercsv starter: facial-expression recognition in one notebook

{BADGE}

Install, get data (Google Drive, a URL, or the built-in synthetic faces), inspect it, train a 48x48
CNN with checkpoints that survive a disconnect, evaluate, predict photos and the webcam, export ONNX.
Cells that need Colab (Drive, webcam) say so and skip themselves elsewhere."""),
    ("code", """import importlib.util, os, subprocess, sys
IN_COLAB = importlib.util.find_spec("google.colab") is not None
if IN_COLAB:
    # Colab already has TensorFlow; fercsv's extras never replace it.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "fercsv[all] @ git+%s"], check=True)
import fercsv
print("fercsv", fercsv.__version__, "| in Colab:", IN_COLAB)""" % REPO),
    ("code", """# Settings. SMALL runs everything in a minute (used by CI); switch it off for real training.
import tempfile
from pathlib import Path
SMALL = os.environ.get("FERCSV_NOTEBOOK_SMALL", "0") == "1"
USE_DRIVE = False          # True: keep data and checkpoints on Google Drive (survives disconnects)
DATA_URL = ""              # a Drive share link or URL of a fer2013.csv; empty: synthetic faces
EPOCHS = 2 if SMALL else 40
WORK = Path("/content/fercsv") if IN_COLAB else Path(tempfile.mkdtemp(prefix="fercsv-nb-"))
WORK.mkdir(parents=True, exist_ok=True)
print("working in", WORK)"""),
    ("md", "## 1. Google Drive (optional)"),
    ("code", """if IN_COLAB and USE_DRIVE:
    WORK = Path(fercsv.colab.mount_drive()) / "fercsv"
    WORK.mkdir(parents=True, exist_ok=True)
    print("working on Drive:", WORK)
else:
    print("Drive not used (set USE_DRIVE = True in Colab)")"""),
    ("md", "## 2. Data: download a CSV, or convert an image folder"),
    ("code", """if DATA_URL:
    CSV = fercsv.download(DATA_URL, WORK / "data.csv")
else:
    fercsv.synth(WORK / "faces", per_class=30 if SMALL else 300, seed=0)   # <split>/<label>/*.png
    report = fercsv.folder_to_csv(WORK / "faces", WORK / "faces.csv")       # one small file to keep
    print(report)
    CSV = WORK / "faces.csv"
ds = fercsv.read_csv(CSV)
print(len(ds), "images of", ds.image_shape)"""),
    ("md", "## 3. Inspect: counts, blank images, duplicates, sample faces"),
    ("code", """print(fercsv.info(ds))
from fercsv.plots import plot_samples
from IPython.display import Image, display
display(Image(str(plot_samples(ds, WORK / "samples.png", per_class=8))))"""),
    ("md", "## 4. Split (only if the CSV has no validation/test rows)"),
    ("code", """if not (ds.usage == "PublicTest").any():
    ds = fercsv.split(ds, val=0.1, test=0.1, seed=0)
print(ds.counts())"""),
    ("md", """## 5. Train
Checkpoints, history and plots go to `RUN`. If the runtime disconnects, run this cell again:
training resumes at the last completed epoch."""),
    ("code", """RUN = WORK / "run"
result = fercsv.train(ds, RUN, epochs=EPOCHS, batch_size=32 if SMALL else 128)
print(result)
display(Image(str(RUN / "curves.png")))"""),
    ("md", "## 6. Evaluate on the test split"),
    ("code", """report = fercsv.evaluate(RUN, ds, split="PrivateTest", tta="flip+zoom")
print(report)
display(Image(report.files["confusion"]))"""),
    ("md", "## 7. Predict a photo"),
    ("code", """import cv2
from fercsv.prediction import annotate
from fercsv.synth import synth_photo
model = fercsv.load_model(RUN)
photo, truth = synth_photo(seed=1)
faces = fercsv.predict(model, photo)
for f in faces:
    print(f.box, f.label, f"{f.score:.0%}")
cv2.imwrite(str(WORK / "photo_pred.png"), annotate(photo, faces))
display(Image(str(WORK / "photo_pred.png")))"""),
    ("md", "## 8. Webcam: one photo, then live emotions (Colab only)"),
    ("code", """if IN_COLAB:
    shot = fercsv.colab.take_photo(WORK / "webcam.jpg")
    print(fercsv.predict(model, shot))
else:
    print("skipped: the webcam cells need Google Colab")"""),
    ("code", """if IN_COLAB:
    print(fercsv.colab.webcam_emotions(model, max_seconds=60))   # click the video to stop
else:
    print("skipped: the webcam cells need Google Colab")"""),
    ("md", "## 9. Export to ONNX (verified against Keras with onnxruntime)"),
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
