"""CLI verb ``fercsv app``: the browser app (Gradio), started on this machine."""
from .main import given, option, verb


def _cmd_app(a):
    from ..serve.app import launch

    launch(getattr(a, "model", None), **given(a, drop=("model",)))


def register(sub):
    """Add ``app`` to the CLI's sub-commands."""
    from ..serve.app import launch

    p = verb(sub, "app", help="live webcam, photo and video emotions in the browser (needs fercsv[app])",
             func=_cmd_app,
             example="fercsv app                      # the shipped pretrained model, opens the browser\n"
                     "fercsv app run/ --port 8000     # a trained RUN_DIR (or .keras, .onnx)\n"
                     "fercsv app model.onnx --host 0.0.0.0 --no-browser   # serve other machines")
    p.add_argument("model", nargs="?", help="RUN_DIR, .keras or .onnx (default: the shipped pretrained model)")
    option(p, "--host", library=launch,
           help="address to serve on; 0.0.0.0 lets other machines in (their camera then needs https)")
    option(p, "--port", type=int, help="port (default: the first free one from 7860)")
    option(p, "--share", action="store_true", help="also ask Gradio for a public link (needs the internet)")
    option(p, "--no-browser", dest="open_browser", action="store_false", help="do not open a browser tab")
