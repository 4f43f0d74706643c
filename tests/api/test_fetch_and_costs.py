"""Fetching seed images from URLs (when an admin allows it), and the cost of each result."""

import http.server
import threading

import pytest

from tests.conftest import png_bytes
from webapp.studio.fetch import fetch_image_bytes
from webapp.studio.images import ImageDecodeError


@pytest.fixture
def image_server():
    """A local HTTP server: /ok.png, /big (too large), /slow (never finishes), /missing (404)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/ok.png":
                body = png_bytes(128, 128)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/big":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"x" * 3000)
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.end_headers()
            elif self.path == "/slow":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"x")
                self.wfile.flush()
                threading.Event().wait(3)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_it_fetches_an_image(settings, image_server):
    settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE = True
    assert fetch_image_bytes(f"{image_server}/ok.png") == png_bytes(128, 128)


def test_it_refuses_private_addresses_by_default(settings, image_server):
    with pytest.raises(ImageDecodeError, match="private or local"):
        fetch_image_bytes(f"{image_server}/ok.png")


@pytest.mark.parametrize("path, message", [
    ("/missing", "answered 404"),
    ("/big", "larger than"),
    ("/redirect", "302|http or https"),  # a redirect to file:// is never followed
    ("/slow", "within 1 seconds"),
])
def test_it_gives_up_cleanly(settings, image_server, path, message):
    settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE = True
    settings.STEPWISE_MAX_UPLOAD_BYTES = 2000
    settings.STEPWISE_URL_FETCH_TIMEOUT = 1
    with pytest.raises(ImageDecodeError, match=message):
        fetch_image_bytes(f"{image_server}{path}")


def test_it_refuses_other_schemes():
    with pytest.raises(ImageDecodeError, match="http or https"):
        fetch_image_bytes("ftp://example.com/a.png")


def test_a_url_seed_image_works_when_fetching_is_enabled(settings, image_server, alice, builtin_model):
    from webapp.studio.schema import validate_inference

    settings.STEPWISE_ALLOW_URL_FETCH = True
    settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE = True
    valid = validate_inference({"positivePrompt": "a cat", "seedImage": f"{image_server}/ok.png", "strength": 0.5},
                               user=alice)
    assert valid.task_type == "imageToImage"
    assert valid.seed_image is not None and valid.seed_image.image.size == (128, 128)


def test_costs_add_up_to_the_jobs_gpu_seconds(settings, alice, make_image):
    from webapp.api.protocol.results import job_costs
    from webapp.studio.models import Image

    settings.STEPWISE_GPU_HOUR_PRICE = 1.8
    first = make_image(alice)
    job = first.job
    job.number_results = 2
    job.gpu_seconds = 10.0  # 2 s loading the model, 3 s and 5 s for the images
    job.save()
    first.seconds, first.index = 3.0, 0
    first.save()
    second = Image.objects.create(job=job, owner=alice, seed=2, width=64, height=64, index=1, seconds=5.0,
                                  file=first.file.name)
    costs = job_costs(job, [first, second])
    assert costs[first.id] == pytest.approx(3.0 / 3600 * 1.8)
    assert costs[second.id] == pytest.approx(7.0 / 3600 * 1.8)  # the last image carries the loading time
    assert sum(costs.values()) == pytest.approx(10.0 / 3600 * 1.8)


@pytest.fixture
def drip_server():
    """Answers every request one byte at a time, 0.2 s apart, headers and body: 28 s in all."""
    import socket as socketlib

    listener = socketlib.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            payload = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"b" * 100
            try:
                for byte in payload:
                    if stop.wait(0.2):
                        break
                    conn.sendall(bytes([byte]))
            except OSError:
                pass
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def test_a_dripping_server_is_cut_off_at_the_deadline(settings, drip_server):
    """Each byte arrives well within a socket timeout; only an overall deadline stops it."""
    import time

    settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE = True
    settings.STEPWISE_URL_FETCH_TIMEOUT = 1
    started = time.monotonic()
    with pytest.raises(ImageDecodeError, match="within 1 seconds"):
        fetch_image_bytes(f"{drip_server}/slow.png")
    assert time.monotonic() - started < 2.5


def test_it_connects_only_to_the_address_it_checked(settings, monkeypatch):
    """DNS rebinding: a second lookup could answer 127.0.0.1; there is no second lookup."""
    import socket as socketlib

    from webapp.studio import fetch

    answers = iter(["8.8.8.8", "127.0.0.1"])
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        address = next(answers)
        lookups.append(address)
        return [(socketlib.AF_INET, socketlib.SOCK_STREAM, 6, "", (address, port))]

    connected_to = []

    def pinned_socket(address, timeout):
        connected_to.append(address.sockaddr)
        raise OSError("no network in tests")

    monkeypatch.setattr(fetch.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(fetch, "_pinned_socket", pinned_socket)
    with pytest.raises(ImageDecodeError, match="no network in tests"):
        fetch_image_bytes("http://rebind.example/a.png")
    assert lookups == ["8.8.8.8"] and connected_to == [("8.8.8.8", 80)]


def test_every_redirect_hop_is_checked(settings, image_server, monkeypatch):
    from webapp.studio import fetch

    settings.STEPWISE_URL_FETCH_ALLOW_PRIVATE = True
    seen = []
    original = fetch.checked_address

    def recording(url):
        seen.append(url)
        return original(url)

    monkeypatch.setattr(fetch, "checked_address", recording)
    with pytest.raises(ImageDecodeError):
        fetch_image_bytes(f"{image_server}/redirect")
    assert seen == [f"{image_server}/redirect", "file:///etc/passwd"]
