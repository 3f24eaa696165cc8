"""Fake ARES server for tests and local runs (see server.py)."""
from .server import BASE_PATH, FakeAres

__all__ = ["BASE_PATH", "FakeAres"]
