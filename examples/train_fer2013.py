"""The GPU recipe for FER-2013: train on Training, select on PublicTest, report PrivateTest once.

    python examples/train_fer2013.py fer2013.csv run_fer2013     # the CSV, the image folder or its .zip

Built to reach the best published single-model figures (72.7-73.7 % PrivateTest, VGG-sized
networks) on a Colab GPU; it has NOT been run here (the project's machine has no GPU), so no
figure is claimed for it. What it shares with those recipes: a VGG-style net of ~5.9 M parameters
(fercnn-wide), SGD with Nesterov momentum 0.9 and weight decay 1e-4, batch 64, a long schedule
(cosine over 150 epochs after a warm-up), flips/rotations/zoom/shifts as crops, random erasing,
mixup with label smoothing, and ten-crop test-time augmentation. Rerun the same command after a
disconnect and it resumes (keep the run folder on Drive). About 20 s per epoch on a T4 is the
expected order of magnitude, also not measured here.
"""
import sys
from pathlib import Path

import fercsv

data, run = sys.argv[1], sys.argv[2]
is_folder = Path(data).is_dir() or data.endswith((".zip", ".tar", ".tar.gz", ".tgz"))
dataset = fercsv.read_folder(data) if is_folder else fercsv.read_csv(data)
print(fercsv.info(dataset))
result = fercsv.train(dataset, run, model="fercnn-wide", epochs=150, batch_size=64, lr=0.01,
                      optimizer="sgd", weight_decay=1e-4, schedule="cosine", warmup_epochs=3,
                      label_smoothing=0.1, mixup=0.2, erasing=0.5, patience=40, tta="ten-crop")
print(result)          # best PublicTest epoch; PrivateTest with ten-crop TTA, and without TTA in report.json
