"""Packaging for fercsv. The core install is light; TensorFlow comes only with the extras.

No extra pins TensorFlow to a version or asks for tensorflow-cpu, so installing
fercsv in Colab keeps Colab's preinstalled TensorFlow.
"""
from pathlib import Path

from setuptools import find_packages, setup

PROJECT = {}
exec((Path(__file__).parent / "fercsv" / "core" / "project.py").read_text(encoding="utf-8"), PROJECT)  # HOME without importing fercsv

CORE = [
    "numpy>=1.23",
    "pandas>=1.5",
    "imageio>=2.28",
    "pillow>=9",
    # OpenCV 5 no longer ships the Haar cascades that face detection needs, and
    # the GUI build needs libGL on headless machines: the headless 4.x wheel fits
    # both a bare Linux box and Colab (which preinstalls opencv 4.x).
    "opencv-python-headless>=4.6,<5",
    "tqdm>=4.60",
]
TRAIN = ["tensorflow>=2.16", "scikit-learn>=1.2", "matplotlib>=3.6"]
EXPORT = ["tf2onnx>=1.16", "onnx>=1.14", "onnxruntime>=1.16"]
COLAB = ["gdown>=5", "requests>=2.25"]
# Prediction with an ONNX model (the shipped pretrained ones) needs onnxruntime and no TensorFlow.
PREDICT = ["onnxruntime>=1.16"]
# Deprecated, empty: video goes through OpenCV's bundled FFmpeg; kept so old install lines still work.
VIDEO = []
# The browser app (fercsv app): Gradio serves the page; ONNX models run on onnxruntime without
# TensorFlow; matplotlib draws the video timeline.
APP = ["gradio>=6.10,<7", "onnxruntime>=1.16", "matplotlib>=3.6"]
# Past one machine (fercsv sweep, predict --engine ray, Parquet output): Ray Tune and Ray Data run
# the work; pyarrow writes Parquet. Never in the core install.
SCALE = ["ray[data,tune]>=2.10", "pyarrow>=12"]
TEST = ["pytest>=7", "scikit-image>=0.21", "playwright>=1.40", "nbclient>=0.8", "nbformat>=5.7",
        "ipykernel>=6", "import-linter>=2.1", "build>=1"]

setup(
    name="fercsv",
    version="0.1.0",
    description="Facial-expression recognition kit: FER-2013 pixel CSVs, training, prediction, export",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    url=PROJECT["HOME"],
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["fercsv", "fercsv.*"]),
    package_data={"fercsv": ["js/*.js", "weights/*.onnx", "weights/*.json"]},
    install_requires=CORE,
    extras_require={
        "train": TRAIN,
        "export": EXPORT,
        "predict": PREDICT,
        "colab": COLAB,
        "video": VIDEO,
        "app": APP,
        "scale": SCALE,
        "all": TRAIN + EXPORT + COLAB + VIDEO + APP + SCALE,
        "test": TEST,
    },
    entry_points={"console_scripts": ["fercsv=fercsv.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
