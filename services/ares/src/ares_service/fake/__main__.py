"""Run the fake ARES in the foreground: python -m ares_service.fake --host 127.0.0.1 --port 8099"""
import argparse
import os

from .server import ENV_VAR, FakeAres


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ares_service.fake", description="Fake ARES REST API")
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
    fake.serve_forever()


if __name__ == "__main__":
    main()
