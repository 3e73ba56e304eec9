"""Find the faces in a photo, predict their emotions and save an annotated copy.

    python examples/predict_photo.py RUN_DIR photo.jpg
"""
import sys

import cv2

import fercsv
from fercsv import annotate
from fercsv.vision.images import read_color

model = fercsv.load_model(sys.argv[1])          # RUN_DIR, .keras or .onnx
image = read_color(sys.argv[2])
faces = fercsv.predict(model, image)
for face in faces:
    print(face.box, face.label, f"{face.score:.0%}")
cv2.imwrite("annotated.png", annotate(image, faces))
