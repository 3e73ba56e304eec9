"""Test-only stand-in for Google Colab's ``google.colab`` package (Colab cannot run here).

It behaves like the real one where fercsv and the starter notebook touch it:
``output.eval_js`` evaluates JavaScript in a real headless Chromium page with a fake camera,
``output.register_callback`` lets that page call Python through ``google.colab.kernel.invokeFunction``,
``drive.mount`` mounts a local folder as "My Drive", ``userdata.get`` reads secrets.
Configured by environment variables (so a notebook kernel started by a test sees the same):

FAKECOLAB_CAMERA   a .y4m video for the fake camera, "denied" (permission refused) or "none" (no camera)
FAKECOLAB_STOP     "N" or "N:video": the simulated user stops a live stream after N frames (Stop button,
                   or a click on the video)
FAKECOLAB_DRIVE    the folder that plays the user's Google Drive
FAKECOLAB_SECRETS  a JSON file of Colab secrets {"NAME": "value"}
"""
from . import drive, output, userdata  # noqa: F401
