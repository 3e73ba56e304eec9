"""Export a trained run to ONNX (checked against Keras) and prepare the Ascend OM command.

    python examples/export_onnx.py RUN_DIR
"""
import sys

import fercsv

run = sys.argv[1]
print(fercsv.export_onnx(run, "fer.onnx"))                 # NHWC, for onnxruntime
print(fercsv.export_onnx(run, "fer_nchw.onnx", nchw=True))  # N,1,48,48 for Ascend atc
print(fercsv.export_om("fer_nchw.onnx", "fer", soc_version="Ascend310", dry_run=True).details["command"])
print(fercsv.export_tflite(run, "fer.tflite", quantize="float16"))
