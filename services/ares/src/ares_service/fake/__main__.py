"""Run the fake ARES in the foreground: python -m ares_service.fake --host 127.0.0.1 --port 8099"""
import argparse
import os
import signal
import sys

from .server import ENV_VAR, FakeAres

EPILOG = """Faults and counters over HTTP, beside the ARES base path:
  POST /__control {"mode": "ok|error|hang|refuse|latency", "status": 503, "latency": 0.5, "for": 10}
  GET /__control, GET /__stats, POST /__stats/reset ("refuse" needs "for": it closes the port)"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ares_service.fake", description="Fake ARES REST API",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--recordings", action="append", default=[], metavar="DIR",
                        help=f"extra directory of recorded JSON bodies (repeatable; also ${ENV_VAR}, {os.pathsep!r}-separated)")
    parser.add_argument("--synthesize", action="store_true",
                        help="answer every valid IČO without a recording with a made-up company "
                             "(recording 04 under that IČO) instead of 404")
    args = parser.parse_args(argv)
    fake = FakeAres(host=args.host, port=args.port, extra_dirs=args.recordings,
                    synthesize=args.synthesize)
    fake.bind()
    print(fake.url, flush=True)  # after binding, so port 0 prints the real port
    # as a container's PID 1 nothing else ends it on SIGTERM (the kernel ignores a default action)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fake.serve_forever()


if __name__ == "__main__":
    main()
