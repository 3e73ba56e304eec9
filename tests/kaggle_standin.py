"""A local stand-in for Kaggle's dataset download API, for tests (Kaggle's servers cannot be reached here).

It behaves as the real service does for ``GET /api/v1/datasets/download/OWNER/DATASET``: HTTP Basic
credentials are required (401 without or with wrong ones), an unknown dataset is a 404, a dataset
whose rules were not accepted a 403, and a good request is redirected (302) to a signed URL on a
storage path that serves the zip and, like Google Cloud Storage, refuses a request that also
carries an Authorization header.
"""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class KaggleStandIn:
    def __init__(self, datasets, *, username="tester", key="0123456789abcdef", restricted=()):
        self.datasets = dict(datasets)  # "owner/name" -> zip bytes
        self.restricted = set(restricted)
        self.auth = "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()
        self.requests = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)  # also reached as localhost
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status, message):
                body = json.dumps({"code": status, "message": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                auth = self.headers.get("Authorization")
                standin.requests.append((self.path, auth))
                prefix = "/api/v1/datasets/download/"
                if self.path.startswith(prefix):
                    ref = self.path[len(prefix):].split("?")[0]
                    if auth != standin.auth:
                        return self._json(401, "Unauthenticated")
                    if ref not in standin.datasets:
                        return self._json(404, "Not found")
                    if ref in standin.restricted:
                        return self._json(403, "You must accept this dataset's rules")
                    self.send_response(302)
                    # storage lives on another host name, as storage.googleapis.com does for Kaggle
                    port = standin.server.server_address[1]
                    self.send_header("Location", f"http://localhost:{port}/storage/{ref}/archive.zip"
                                                 "?X-Goog-Signature=abc123")
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                if self.path.startswith("/storage/"):
                    if auth is not None:
                        return self._json(400, "Only one auth mechanism allowed")
                    ref = self.path[len("/storage/"):].rsplit("/", 1)[0]
                    data = standin.datasets[ref]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/zip")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    return self.wfile.write(data)
                self._json(404, "Not found")

        return Handler
