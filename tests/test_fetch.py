import hashlib
import http.server
import threading

import numpy as np
import pytest

import fercsv
from fercsv import DownloadError
from fercsv.data.download import download
from helpers import run_cli

CSV = b"emotion,pixels,Usage\n3,1 2 3 4,Training\n5,9 9 9 9,PublicTest\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/data.csv"):
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(CSV)))
            self.end_headers()
            self.wfile.write(CSV)
        elif self.path.startswith("/truncated.csv"):
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(CSV)
            self.wfile.flush()
            self.connection.close()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_with_checksum_and_cache(server, tmp_path):
    md5 = hashlib.md5(CSV).hexdigest()
    path = download(f"{server}/data.csv", tmp_path / "d.csv", md5=md5, quiet=True)
    assert path.read_bytes() == CSV
    path.write_bytes(CSV)  # same content: reused, not fetched again
    stamp = path.stat().st_mtime_ns
    assert download(f"{server}/data.csv", tmp_path / "d.csv", md5=md5, quiet=True) == path
    assert path.stat().st_mtime_ns == stamp
    sha = hashlib.sha256(CSV).hexdigest()
    assert download(f"{server}/data.csv", tmp_path, sha256=sha, quiet=True) == tmp_path / "data.csv"


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match="md5 .* does not match the expected 0+"):
        download(f"{server}/data.csv", tmp_path / "d.csv", md5="0" * 32, quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_and_interrupted_transfer(server, tmp_path):
    with pytest.raises(DownloadError, match="download of .*/missing.csv failed"):
        download(f"{server}/missing.csv", tmp_path / "m.csv", quiet=True)
    with pytest.raises(DownloadError, match="truncated.csv"):
        download(f"{server}/truncated.csv", tmp_path / "t.csv", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_bad_sources(tmp_path):
    with pytest.raises(fercsv.BadInputError, match="neither a URL nor a Google Drive file ID"):
        download("not a link", tmp_path / "x")


def test_read_csv_from_url_and_cli(server, tmp_path, monkeypatch):
    monkeypatch.setenv("FERCSV_CACHE", str(tmp_path / "cache"))
    ds = fercsv.read_csv(f"{server}/data.csv")
    assert ds.labels.tolist() == [3, 5] and np.array_equal(ds.images[1], np.full((2, 2), 9))
    assert (tmp_path / "cache" / "data.csv").is_file()
    r = run_cli("download", f"{server}/data.csv", tmp_path / "c.csv", "--md5", hashlib.md5(CSV).hexdigest(),
                "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "c.csv").read_bytes() == CSV
    r = run_cli("download", f"{server}/data.csv", tmp_path / "e.csv", "--md5", "1" * 32, "--quiet")
    assert r.returncode == 1 and "does not match" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "e.csv").exists()
