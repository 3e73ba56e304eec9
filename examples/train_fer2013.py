"""The full FER-2013 recipe: train on Training, select on PublicTest, report PrivateTest once.

    python examples/train_fer2013.py fer2013.csv run_fer2013     # a CSV, or the image folder

On a Colab GPU: 80 epochs of the default model with flip+zoom TTA. Rerun the same
command after a disconnect and it resumes (keep the run folder on Drive).
"""
import sys
from pathlib import Path

import fercsv

data, run = sys.argv[1], sys.argv[2]
dataset = fercsv.read_folder(data) if Path(data).is_dir() else fercsv.read_csv(data)
print(fercsv.info(dataset))
result = fercsv.train(dataset, run, model="fercnn", epochs=80, batch_size=128, lr=1e-3,
                      label_smoothing=0.1, schedule="cosine", patience=20)
print(result)                       # best PublicTest epoch, PrivateTest accuracy with flip+zoom TTA
print(fercsv.evaluate(run, dataset, split="PrivateTest", tta="flip"))  # the same model, two views only
