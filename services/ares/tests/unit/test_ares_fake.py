"""The fake ARES itself: routing, recordings, modes and the command line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ares_service.fake import FakeAres

# the project's shared folder lies beside the repository (as on CI)
SHARED = Path(__file__).resolve().parents[4].parent / "shared" / "ares"


def test_recordings_are_byte_identical_to_the_originals(recordings_dir):
    if not SHARED.is_dir():
        pytest.skip("shared recordings not on this machine")
    for original in sorted(SHARED.glob("0*.json")) + sorted(SHARED.glob("10_*.json")):
        assert (recordings_dir / original.name).read_bytes() == original.read_bytes()


def test_subject_body_is_served_as_recorded(fake_ares, recordings_dir):
    response = requests.get(f"{fake_ares.url}/ekonomicke-subjekty/25063677", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    (recorded,) = recordings_dir.glob("04_*.json")
    assert response.content == recorded.read_bytes()


def test_bad_format_is_400_with_recording_07(fake_ares, recording):
    response = requests.get(f"{fake_ares.url}/ekonomicke-subjekty/1603094", timeout=5)
    assert response.status_code == 400
    assert response.json() == recording("07")


def test_unknown_ico_is_404_with_recording_06(fake_ares, recording):
    response = requests.get(f"{fake_ares.url}/ekonomicke-subjekty/25596641", timeout=5)
    assert response.status_code == 404
    assert response.json() == recording("06")


def test_vr_endpoint(fake_ares, recording):
    ok = requests.get(f"{fake_ares.url}/ekonomicke-subjekty-vr/25063677", timeout=5)
    assert ok.status_code == 200 and ok.json() == recording("10")
    missing = requests.get(f"{fake_ares.url}/ekonomicke-subjekty-vr/01603094", timeout=5)
    assert missing.status_code == 404 and missing.json()["subKod"] == "VYSTUP_SUBJEKT_NENALEZEN"


def test_search_by_ico_list(fake_ares):
    response = requests.post(
        f"{fake_ares.url}/ekonomicke-subjekty/vyhledat",
        json={"ico": ["25063677", "68407700", "25596641"], "start": 0, "pocet": 100}, timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["pocetCelkem"] == 2
    assert [s["ico"] for s in body["ekonomickeSubjekty"]] == ["25063677", "68407700"]
    paged = requests.post(f"{fake_ares.url}/ekonomicke-subjekty/vyhledat",
                          json={"ico": ["25063677", "68407700"], "start": 1, "pocet": 1}, timeout=5).json()
    assert paged["pocetCelkem"] == 2 and [s["ico"] for s in paged["ekonomickeSubjekty"]] == ["68407700"]


def test_malformed_search_body_is_500_with_recording_08(fake_ares, recording):
    response = requests.post(f"{fake_ares.url}/ekonomicke-subjekty/vyhledat", data=b'{"ico": [\'x\\\'', timeout=5,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 500
    assert response.json() == recording("08")


def test_error500_mode_and_requests_log(fake_ares):
    fake_ares.set_mode("error500")
    assert requests.get(f"{fake_ares.url}/ekonomicke-subjekty/25063677", timeout=5).status_code == 500
    fake_ares.set_mode("ok")
    assert requests.get(f"{fake_ares.url}/ekonomicke-subjekty/25063677", timeout=5).status_code == 200
    assert fake_ares.requests == ["/ekonomicke-subjekty-v-be/rest/ekonomicke-subjekty/25063677"] * 2
    with pytest.raises(ValueError):
        fake_ares.set_mode("slow")


def test_stop_releases_a_hanging_request():
    fake = FakeAres().start()
    fake.set_mode("hang")
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{fake.url}/ekonomicke-subjekty/25063677", timeout=(3, 0.3))
    fake.stop()  # must return promptly although the handler is still "hanging"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{fake.url}/ekonomicke-subjekty/25063677", timeout=2)


def _write_subject(directory: Path, name: str, ico: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps({"ico": ico, "obchodniJmeno": f"Extra {ico}"}), encoding="utf-8")


def test_extra_dirs_and_env_var(tmp_path, monkeypatch):
    _write_subject(tmp_path / "extra", "anything.json", "27074358")
    _write_subject(tmp_path / "env", "acme_45274649.json", "45274649")
    monkeypatch.setenv("FAKE_ARES_RECORDINGS", os.pathsep.join([str(tmp_path / "env"), str(tmp_path / "none")]))
    with FakeAres(extra_dirs=[tmp_path / "extra"]) as fake:
        for ico in ("27074358", "45274649", "25063677"):
            response = requests.get(f"{fake.url}/ekonomicke-subjekty/{ico}", timeout=5)
            assert response.status_code == 200 and response.json()["ico"] == ico


def test_command_line_prints_base_url_and_serves():
    src = Path(__file__).resolve().parents[2] / "src"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "ares_service.fake", "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=env, cwd="/")
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/ekonomicke-subjekty-v-be/rest")
        assert requests.get(f"{url}/ekonomicke-subjekty/68407700", timeout=5).json()["ico"] == "68407700"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_synthesize_finds_every_valid_ico_without_a_recording(recording):
    with FakeAres(synthesize=True) as fake:
        made_up = requests.get(f"{fake.url}/ekonomicke-subjekty/00000019", timeout=5)
        assert made_up.status_code == 200
        body, template = made_up.json(), recording("04")
        assert (body["ico"], body["icoId"], body["dic"]) == ("00000019", "00000019", "CZ00000019")
        assert body["obchodniJmeno"] == "Syntetická 00000019 s.r.o."
        assert body["sidlo"] == template["sidlo"] and body["czNace"] == template["czNace"]
        # recordings still win; a recorded 404, a wrong check digit and a bad format do not change
        assert requests.get(f"{fake.url}/ekonomicke-subjekty/68407700", timeout=5).json()["ico"] == "68407700"
        assert requests.get(f"{fake.url}/ekonomicke-subjekty/25596641", timeout=5).status_code == 404
        assert requests.get(f"{fake.url}/ekonomicke-subjekty/00000018", timeout=5).status_code == 404
        assert requests.get(f"{fake.url}/ekonomicke-subjekty/1603094", timeout=5).status_code == 400
        search = requests.post(f"{fake.url}/ekonomicke-subjekty/vyhledat",
                               json={"ico": ["00000019", "25596641"]}, timeout=5).json()
        assert [s["ico"] for s in search["ekonomickeSubjekty"]] == ["00000019"]
    with FakeAres() as default:  # off by default: unknown IČOs are 404 as in ARES
        assert requests.get(f"{default.url}/ekonomicke-subjekty/00000019", timeout=5).status_code == 404


def test_command_line_synthesize_flag():
    proc = subprocess.Popen([sys.executable, "-m", "ares_service.fake", "--port", "0", "--synthesize"],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert requests.get(f"{url}/ekonomicke-subjekty/00000019", timeout=5).json()["ico"] == "00000019"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
