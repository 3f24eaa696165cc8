"""The scaffolding of the fakes that stand in for what the CRM cannot reach in tests (ARES,
the ČNB): a real HTTP server in a thread, its requests logged, answers from `handle`.

A subclass sets CONTENT_TYPE and NAME and implements `handle(method, path, body)` ->
(status, body), or None to drop the connection (stopping while it hangs: wait on
`self._stopping`).

`refuse_connections` closes the listening socket (clients get "connection refused", as
from a crashed server) and `accept_connections` listens on the same port again."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG_SECONDS = 30.0  # longer than any sane read timeout


class FakeHttpServer:
    CONTENT_TYPE = "application/octet-stream"
    NAME = "fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.requests: list[str] = []  # paths with their query, in arrival order
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._refused = False  # the listener was closed on purpose and is to be reopened
        self._listener_lock = threading.RLock()

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes] | None:
        raise NotImplementedError

    def hang(self) -> bool:
        """Hold the answer back until stopped (or HANG_SECONDS): True when stopping."""
        return self._stopping.wait(HANG_SECONDS)

    def bind(self) -> ThreadingHTTPServer:
        self._stopping.clear()
        return self._listen()

    def start(self):
        with self._listener_lock:
            self.bind()
            self._serve_in_thread()
        return self

    def serve_forever(self) -> None:
        """In the foreground (a command line fake), after `bind`, until Ctrl-C or `stop`.
        The server itself runs in a thread so that its listener can be closed and reopened."""
        with self._listener_lock:
            self._serve_in_thread()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def refuse_connections(self) -> None:
        """Close the listening socket: new connections are refused until `accept_connections`."""
        with self._listener_lock:
            self._refused = self._server is not None or self._refused
            self._close_listener()

    def accept_connections(self) -> None:
        """Listen on the same port again after `refuse_connections` (else nothing to do)."""
        with self._listener_lock:
            if self._refused and self._server is None and not self._stopping.is_set():
                self._listen()  # SO_REUSEADDR (HTTPServer's default) lets us take the port back
                self._serve_in_thread()
            self._refused = False

    @property
    def listening(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        with self._listener_lock:
            self._refused = False
            self._close_listener()

    def _listen(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False  # stop() must not wait for a hanging handler
        self.port = server.server_address[1]
        self._server = server
        return server

    def _serve_in_thread(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name=self.NAME,
                                        daemon=True)
        self._thread.start()

    def _close_listener(self) -> None:
        # Safe from a handler's thread too: handlers do not run in the serve_forever thread.
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            if thread is not None:
                server.shutdown()
                thread.join(timeout=5)
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler_for(fake: FakeHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"{fake.NAME}/1.0"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = fake.handle(method, self.path, body)
            if answer is None:
                self.close_connection = True
                return
            status, payload = answer
            self.send_response(status)
            self.send_header("Content-Type", fake.CONTENT_TYPE)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args) -> None:  # keep test output quiet
            pass

    return Handler
