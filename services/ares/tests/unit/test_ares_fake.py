"""The fake ARES itself: routing, recordings, modes and the command line."""
import json
import os
import socket
import subprocess
import sys
import time
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


# -- the control API and the counters ------------------------------------------------------------

def _control(fake, **order):
    return requests.post(f"http://{fake.host}:{fake.port}/__control", json=order, timeout=5)


def _subject(fake, ico="25063677", timeout=5):
    return requests.get(f"{fake.url}/ekonomicke-subjekty/{ico}", timeout=timeout)


def test_control_state_and_validation(fake_ares):
    root = f"http://{fake_ares.host}:{fake_ares.port}"
    assert requests.get(f"{root}/__control", timeout=5).json() == {
        "mode": "ok", "status": None, "latency": None, "for": None}
    for bad in ({"mode": "slow"}, {"mode": "error", "status": 404}, {"mode": "latency"},
                {"mode": "latency", "latency": -1}, {"mode": "refuse"}, {"mode": "ok", "x": 1},
                {"mode": ["ok"]}, {"mode": "hang", "for": 0}):
        answer = _control(fake_ares, **bad)
        assert answer.status_code == 400 and answer.json()["error"], bad
    assert requests.post(f"{root}/__control", data=b"{", timeout=5).status_code == 400
    assert requests.get(f"{root}/__stats/nothing", timeout=5).status_code == 404  # ARES's 404 body
    assert fake_ares.mode == "ok" and fake_ares.requests == ["/__stats/nothing"]


def test_error_mode_serves_the_status_then_recovers(fake_ares):
    state = _control(fake_ares, mode="error", status=503, **{"for": 0.5}).json()
    assert state["mode"] == "error" and state["status"] == 503 and 0 < state["for"] <= 0.5
    answer = _subject(fake_ares)
    assert answer.status_code == 503 and answer.json()["kod"] == "OBECNA_CHYBA"
    time.sleep(0.7)
    assert _subject(fake_ares).status_code == 200
    assert fake_ares.control_state()["mode"] == "ok"
    fake_ares.set_mode("error500")  # the old name still works
    assert _subject(fake_ares).status_code == 500


def test_latency_is_added_to_every_answer(fake_ares):
    assert _control(fake_ares, mode="latency", latency=0.5).json()["latency"] == 0.5
    for call in (lambda: _subject(fake_ares),
                 lambda: requests.post(f"{fake_ares.url}/ekonomicke-subjekty/vyhledat",
                                       json={"ico": ["25063677"]}, timeout=5)):
        started = time.monotonic()
        assert call().status_code == 200
        assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    _control(fake_ares, mode="ok")  # the control API itself is never slowed down
    assert time.monotonic() - started < 0.4
    started = time.monotonic()
    _subject(fake_ares)
    assert time.monotonic() - started < 0.4


def test_hang_over_http_until_for_is_over(fake_ares):
    _control(fake_ares, mode="hang", **{"for": 1.0})
    with pytest.raises(requests.ReadTimeout):
        _subject(fake_ares, timeout=(3, 0.3))
    started = time.monotonic()
    assert _subject(fake_ares).status_code == 200  # held back until the hang was over,
    assert time.monotonic() - started < 2.0  # not for the fake's HANG_SECONDS


def _refused(fake) -> bool:
    try:
        socket.create_connection((fake.host, fake.port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_refuse_closes_the_port_and_reopens_it_after_for(fake_ares):
    port = fake_ares.port
    assert _control(fake_ares, mode="refuse", **{"for": 0.8}).json()["mode"] == "refuse"
    assert _refused(fake_ares)
    with pytest.raises(requests.ConnectionError):
        _subject(fake_ares)
    time.sleep(1.2)
    assert not _refused(fake_ares) and fake_ares.port == port
    assert _subject(fake_ares).status_code == 200


def test_refuse_in_process_until_told_ok(fake_ares):
    fake_ares.set_mode("refuse")
    assert _refused(fake_ares) and not fake_ares.listening
    fake_ares.set_mode("ok")
    assert _subject(fake_ares).status_code == 200


def test_a_later_mode_outlives_an_earlier_for(fake_ares):
    fake_ares.set_mode("error", status=502, seconds=0.3)
    fake_ares.set_mode("error", status=504)  # no end
    time.sleep(0.5)
    assert _subject(fake_ares).status_code == 504


def test_stop_while_refusing_stays_stopped():
    fake = FakeAres().start()
    fake.set_mode("refuse", seconds=0.2)
    fake.stop()
    time.sleep(0.4)
    assert _refused(fake) and not fake.listening


def test_stats_count_by_endpoint_and_reset(fake_ares):
    root = f"http://{fake_ares.host}:{fake_ares.port}"
    _subject(fake_ares)
    _subject(fake_ares, "25596641")
    _subject(fake_ares, "1603094")  # a bad format is still a question about one IČO
    requests.get(f"{fake_ares.url}/ekonomicke-subjekty-vr/25063677", timeout=5)
    requests.post(f"{fake_ares.url}/ekonomicke-subjekty/vyhledat", json={"ico": ["25063677", "68407700"]}, timeout=5)
    requests.get(f"{fake_ares.url}/ekonomicke-subjekty-res/25063677", timeout=5)
    _control(fake_ares, mode="ok")
    assert requests.get(f"{root}/__stats", timeout=5).json() == {
        "requests": {"GET /ekonomicke-subjekty/{ico}": 3, "GET /ekonomicke-subjekty-vr/{ico}": 1,
                     "POST /ekonomicke-subjekty/vyhledat": 1, "GET (other)": 1},
        "icos": 6, "total": 6}
    assert requests.post(f"{root}/__stats/reset", timeout=5).json() == {"requests": {}, "icos": 0, "total": 0}
    assert fake_ares.stats()["total"] == 0


def test_stats_are_thread_safe(fake_ares):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda _: _subject(fake_ares), range(80)))
    assert fake_ares.stats() == {"requests": {"GET /ekonomicke-subjekty/{ico}": 80}, "icos": 80, "total": 80}


def test_control_api_of_the_command_line_fake():
    proc = subprocess.Popen([sys.executable, "-m", "ares_service.fake", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        root = url.split("/ekonomicke-subjekty-v-be")[0]
        requests.post(f"{root}/__control", json={"mode": "refuse", "for": 0.5}, timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/ekonomicke-subjekty/68407700", timeout=5)
        time.sleep(0.9)
        assert requests.get(f"{url}/ekonomicke-subjekty/68407700", timeout=5).status_code == 200
        assert requests.get(f"{root}/__stats", timeout=5).json()["total"] == 1  # the refused one never came
    finally:
        proc.terminate()
        proc.wait(timeout=10)
