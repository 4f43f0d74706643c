"""Abuse: what oversized requests cost the web server, and whether other users notice.

    .venv/bin/python bench/abuse.py [--mb 100] [--v1-mb 200]

Starts a real Stepwise (`manage.py serve --workers 0`) on a throwaway data dir, on loopback only, and
sends, one at a time, while a second user pings /v1 every 50 ms:

1. an anonymous 100 MB multipart upload to /create/image-to-image/ (with Content-Length);
2. the same upload, logged in;
3. a 200 MB /v1 body with Content-Length;
4. a 200 MB /v1 body without one (chunked), which the server can only stop by counting;
5. a 58 MB /v1 body, just under the default 61 MB limit: read whole, so this is the real bound.

For each: the web server's peak RSS above its resting RSS (sampled every 10 ms from /proc), the
status it answered, how many MB the client managed to send before the answer, and the other user's
ping latency (p50/max) during the attack against the resting figure. Figures: docs/benchmarks.md.
"""

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402  (installed with accelerate)
import requests  # noqa: E402

from tests.live import PASSWORD, LiveStepwise  # noqa: E402

CHUNK = 256 * 1024


def web_process(server) -> psutil.Process:
    """The uvicorn child of `manage.py serve`."""
    assert server.process is not None
    for child in psutil.Process(server.process.pid).children(recursive=True):
        if "uvicorn" in " ".join(child.cmdline()):
            return child
    raise RuntimeError("no uvicorn process under serve")


class PeakRss:
    def __init__(self, process: psutil.Process):
        self.process = process
        self.peak = 0
        self.stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class Pinger:
    """Another user's /v1 ping every 50 ms: its latency is what an attack costs everyone else."""

    def __init__(self, url, key):
        self.url, self.key = url, key
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        session = requests.Session()
        while not self.stop.is_set():
            started = time.monotonic()
            session.post(f"{self.url}/v1", json=[{"taskType": "ping", "ping": True}],
                         headers={"Authorization": f"Bearer {self.key}"}, timeout=60)
            self.latencies.append(time.monotonic() - started)
            time.sleep(0.05)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def send_body(port, path, *, size, headers, chunked=False, content_type="application/json"):
    """Stream `size` bytes to path; returns (status, MB the client sent before the answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", content_type)
    for name, value in headers.items():
        connection.putheader(name, value)
    if chunked:
        connection.putheader("Transfer-Encoding", "chunked")
    else:
        connection.putheader("Content-Length", str(size))
    connection.endheaders()
    sent = 0
    block = b"0" * CHUNK
    try:
        while sent < size:
            piece = block[: min(CHUNK, size - sent)]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            connection.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed: what it read is what counts
    try:
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException):
        status = 0
    connection.close()
    return status, sent / (1024 * 1024)


def run(args):
    with tempfile.TemporaryDirectory(prefix="stepwise-abuse-") as data_dir:
        server = LiveStepwise(Path(data_dir), workers=0).start()
        try:
            server.create_user("alice", "Studio A", admin=True)
            server.create_user("bob", "Studio A")
            key = server.manage("shell", "-c", (
                "from django.contrib.auth.models import User; from webapp.api.services import api_key_create;"
                "print(api_key_create(user=User.objects.get(username='bob'))[1])")).stdout.strip().splitlines()[-1]
            session = requests.Session()
            session.get(f"{server.url}/login/", timeout=30)
            session.post(f"{server.url}/login/", data={"username": "alice", "password": PASSWORD,
                                                       "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=30)
            web = web_process(server)
            with Pinger(server.url, key) as pinger:
                time.sleep(3)
            resting_latency = statistics.median(pinger.latencies)
            mb = 1024 * 1024
            cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
            cases = [
                ("anonymous upload", "/create/image-to-image/", args.mb, {}, False, "multipart/form-data; boundary=b"),
                ("logged-in upload", "/create/image-to-image/", args.mb,
                 {"Cookie": cookie, "X-CSRFToken": session.cookies["csrftoken"], "Origin": server.url,
                  "Referer": server.url + "/"}, False, "multipart/form-data; boundary=b"),
                ("/v1 body, Content-Length", "/v1", args.v1_mb, {}, False, "application/json"),
                ("/v1 body, chunked", "/v1", args.v1_mb, {}, True, "application/json"),
                # Under the limit: read whole (request.body), then refused as JSON. The bound in practice.
                ("/v1 body, just under limit", "/v1", 58, {}, False, "application/json"),
            ]
            print(f"resting: RSS {web.memory_info().rss / mb:.0f} MB, other user's ping p50 "
                  f"{resting_latency * 1000:.0f} ms")
            columns = ("MB", "status", "sent MB", "RSS +MB", "ping p50", "ping max")
            print(f"{'request':28} " + " ".join(f"{c:>9}" for c in columns))
            for name, path, size_mb, headers, chunked, content_type in cases:
                resting = web.memory_info().rss
                with PeakRss(web) as peak, Pinger(server.url, key) as pinger:
                    status, sent = send_body(server.port, path, size=size_mb * mb, headers=headers, chunked=chunked,
                                             content_type=content_type)
                    time.sleep(0.5)
                latencies = pinger.latencies or [float("nan")]
                print(f"{name:28} {size_mb:9d} {status:9d} {sent:9.1f} {(peak.peak - resting) / mb:9.1f} "
                      f"{statistics.median(latencies) * 1000:7.0f}ms {max(latencies) * 1000:7.0f}ms")
        finally:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=100, help="Upload size for the form cases.")
    parser.add_argument("--v1-mb", type=int, default=200, help="Body size for the /v1 cases.")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
