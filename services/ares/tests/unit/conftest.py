import json
from pathlib import Path

import pytest

from ares_service.fake import FakeAres
from ares_service.fake.server import RECORDINGS_DIR


def load_recording(prefix: str) -> dict:
    (path,) = RECORDINGS_DIR.glob(f"{prefix}_*.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def recording():
    return load_recording


@pytest.fixture
def fake_ares():
    fake = FakeAres().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def recordings_dir() -> Path:
    return RECORDINGS_DIR
