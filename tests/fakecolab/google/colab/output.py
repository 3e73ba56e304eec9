"""Stand-in for google.colab.output: eval_js runs the JavaScript in a real headless Chromium page.

Colab evaluates a script in the cell's output frame and, when the value is a promise, waits for
it. Here a dedicated thread owns Playwright (the sync API cannot run inside a notebook kernel's
event loop) and one page plays the output frame. While a script waits, a simulated user acts:
clicks Capture once the video plays, and stops a live stream after $FAKECOLAB_STOP frames.
"""
import os
import queue
import shutil
import tempfile
import threading

_callbacks = {}
_session = None
_lock = threading.Lock()

PAGE = """<!doctype html><html><head><style>body{margin:8px;font:14px sans-serif}</style></head>
<body><p>output cell</p></body></html>"""

SHIM = """
window.__fakecolab = {iframeHeights: [], invocations: []};
window.google = window.google || {};
google.colab = {
  output: {setIframeHeight: (h, autoResize) => { window.__fakecolab.iframeHeights.push(h); }},
  kernel: {invokeFunction: async (name, args, kwargs) => {
    window.__fakecolab.invocations.push(name);
    const result = await window.__fakecolabInvoke(name, args || [], kwargs || {});
    return {data: {'application/json': result}};
  }},
};
"""


def _chromium():
    for path in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""):
        if path and os.path.exists(path):
            return path
    raise RuntimeError("Chromium is not installed: apt-get install chromium")


class _Session(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True, name="fakecolab-browser")
        self.jobs = queue.Queue()
        self.ready = threading.Event()
        self.error = None
        self.frames = 0

    def run(self):
        try:
            from playwright.sync_api import sync_playwright

            camera = os.environ.get("FAKECOLAB_CAMERA", "none")
            args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run"]
            if camera not in ("none", "denied"):
                args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera}",
                         "--use-fake-ui-for-media-stream"]
            elif camera == "denied":
                args += ["--use-fake-device-for-media-stream"]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=_chromium(), headless=True, args=args)
                page = browser.new_page(viewport={"width": 900, "height": 700})
                page.add_init_script(SHIM)
                page.expose_function("__fakecolabInvoke", _invoke)
                folder = tempfile.mkdtemp(prefix="fakecolab-")
                html = os.path.join(folder, "cell.html")
                with open(html, "w") as fh:
                    fh.write(PAGE)
                page.goto("file://" + html)  # file:// is a secure context, as getUserMedia requires
                shutil.rmtree(folder, ignore_errors=True)
                self.page = page
                self.ready.set()
                while True:
                    job = self.jobs.get()
                    if job is None:
                        break
                    func, box, done = job
                    try:
                        box.append(("ok", func(page)))
                    except Exception as exc:  # handed back to the caller's thread
                        box.append(("error", exc))
                    done.set()
                browser.close()
        except Exception as exc:
            self.error = exc
            self.ready.set()

    def call(self, func):
        box, done = [], threading.Event()
        self.jobs.put((func, box, done))
        done.wait()
        kind, value = box[0]
        if kind == "error":
            raise value
        return value


def _get_session():
    global _session
    with _lock:
        if _session is None:
            _session = _Session()
            _session.start()
            _session.ready.wait(120)
            if _session.error is not None:
                error, _session = _session.error, None
                raise error
        return _session


def reset():
    """Close the browser (tests use this to change the camera between runs)."""
    global _session
    with _lock:
        if _session is not None:
            _session.jobs.put(None)
            _session.join(30)
            _session = None


def _stop_rule():
    text = os.environ.get("FAKECOLAB_STOP", "")
    if not text:
        return None, None
    n, _, how = text.partition(":")
    return int(n), how or "button"


def _act_as_user(page, session, script):
    """What a person at the screen does while the script waits."""
    button = page.query_selector("#fercsv-photo button")
    if button is not None and page.evaluate(
            "() => { const v = document.querySelector('#fercsv-photo video'); return !!v && v.videoWidth > 0; }"):
        button.click()
    stop_after, how = _stop_rule()
    if stop_after is not None and script.startswith("fercsvStreamFrame(") and session.frames == stop_after + 1:
        target = "#fercsv-stream button" if how == "button" else "#fercsv-stream video"
        if page.query_selector(target) is not None:
            page.click(target)
            session.frames += 1000  # clicked once


def eval_js(script, ignore_result=False, timeout_sec=None):
    """Evaluate ``script`` in the page; wait for a promise; return its JSON-able value."""
    session = _get_session()
    if script.startswith("fercsvStreamFrame("):
        session.frames += 1
    elif "fercsvStartStream()" in script:
        session.frames = 0

    def run(page):
        _act_as_user(page, session, script)
        page.evaluate("""s => { window.__done = false;
            Promise.resolve((0, eval)(s)).then(v => { window.__result = v; window.__done = true; },
                                              e => { window.__result = {__error: String(e)}; window.__done = true; }); }""",
                      script)
        if ignore_result:
            return None
        limit = (timeout_sec or 60) * 10
        for _ in range(int(limit)):
            if page.evaluate("window.__done"):
                break
            _act_as_user(page, session, script)
            page.wait_for_timeout(100)
        else:
            raise TimeoutError(f"eval_js: the script did not finish in {timeout_sec or 60} s")
        result = page.evaluate("window.__result")
        if isinstance(result, dict) and "__error" in result:
            raise RuntimeError(result["__error"])  # Colab raises MessageError for a rejected promise
        return result

    return session.call(run)


def register_callback(function_name, callback):
    """Let the page call ``callback`` through google.colab.kernel.invokeFunction(function_name, args, kwargs)."""
    _callbacks[function_name] = callback


def _invoke(name, args, kwargs):
    if name not in _callbacks:
        raise ValueError(f"Function not found: {name}")
    return _callbacks[name](*args, **kwargs)


def page_state():
    """Test helper (not in Colab): the iframe heights set and the callbacks invoked so far."""
    return _get_session().call(lambda page: page.evaluate("window.__fakecolab"))


def measure(selector):
    """Test helper (not in Colab): bounding boxes of the elements matching ``selector``."""
    return _get_session().call(lambda page: [e.bounding_box() for e in page.query_selector_all(selector)])


