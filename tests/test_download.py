"""Shared download machinery: atomic, verified, bounded retries; manifests; secrets kept out."""

import dataclasses
import hashlib
import io as stdio
import json
import socket

import pytest
import requests

from fakeservers import NetGuard, Server
from nepflow import config as nconfig
from nepflow.errors import NepflowError
from nepflow.sources import download

DATA = bytes(range(256)) * 4000  # 1 MB of known bytes
MD5 = hashlib.md5(DATA).hexdigest()
SHA = hashlib.sha256(DATA).hexdigest()
FAST = download.Retry(tries=3, backoff=0.01, max_wait=5, connect_timeout=2, read_timeout=0.5)


class FileServer(Server):
    def handle(self, h, method, path, query, body):
        if path.startswith("/files/"):
            return self.send_file(h, path, DATA)
        return self.send(h, int(path.strip("/")) if path.strip("/").isdigit() else 404, b"nope")


@pytest.fixture
def server():
    with NetGuard() as guard, FileServer() as srv:
        srv.guard = guard
        yield srv
    assert guard.blocked == []


class Sleeps(list):
    def __call__(self, s):
        self.append(s)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_fetch_verifies_and_records(server, tmp_path):
    sleeps = Sleeps()
    rec = download.fetch(
        f"{server.base}/files/a.hdf",
        tmp_path / "a.hdf",
        size=len(DATA),
        checksum=("MD5", MD5),
        retry=FAST,
        sleep=sleeps,
    )
    assert (tmp_path / "a.hdf").read_bytes() == DATA
    assert rec == {
        "name": "a.hdf",
        "url": f"{server.base}/files/a.hdf",
        "size": len(DATA),
        "sha256": SHA,
        "checksum": {"algorithm": "MD5", "value": MD5},
    }
    assert sleeps == [] and leftovers(tmp_path) == []


def test_500_then_success(server, tmp_path):
    server.faults["/files/a.hdf"].extend([{"status": 500}, {"status": 503}])
    sleeps = Sleeps()
    rec = download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", retry=FAST, sleep=sleeps)
    assert rec["sha256"] == SHA and len(sleeps) == 2
    assert 0.01 <= sleeps[0] <= 0.011 and 0.02 <= sleeps[1] <= 0.022  # exponential backoff with <= 10 % jitter


def test_429_honours_retry_after_capped(server, tmp_path):
    server.faults["/files/a.hdf"].extend([{"status": 429, "retry_after": "3"}, {"status": 429, "retry_after": "999"}])
    sleeps = Sleeps()
    download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", retry=FAST, sleep=sleeps)
    assert sleeps == [3.0, 5.0]  # Retry-After, then capped at max_wait
    assert download.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_truncated_body_retried_then_complete(server, tmp_path):
    server.faults["/files/a.hdf"].append({"truncate": 1000})
    rec = download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", retry=FAST, sleep=Sleeps())
    assert rec["size"] == len(DATA) and (tmp_path / "a.hdf").read_bytes() == DATA


def test_truncated_every_time_leaves_no_file(server, tmp_path):
    server.faults["/files/a.hdf"].extend([{"truncate": 1000}] * 3)
    with pytest.raises(NepflowError) as err:
        download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", retry=FAST, sleep=Sleeps())
    msg = str(err.value)
    assert "\n" not in msg and "a.hdf" in msg and "after 3 tries" in msg
    assert not (tmp_path / "a.hdf").exists() and leftovers(tmp_path) == []


def test_checksum_mismatch(server, tmp_path):
    server.faults["/files/a.hdf"].append({"corrupt": True})  # one corrupt transfer, then good
    rec = download.fetch(
        f"{server.base}/files/a.hdf", tmp_path / "a.hdf", checksum=("MD5", MD5), retry=FAST, sleep=Sleeps()
    )
    assert rec["sha256"] == SHA
    with pytest.raises(NepflowError, match="MD5 checksum mismatch"):  # a catalogue checksum that never matches
        download.fetch(
            f"{server.base}/files/a.hdf", tmp_path / "b.hdf", checksum=("MD5", "0" * 32), retry=FAST, sleep=Sleeps()
        )
    assert not (tmp_path / "b.hdf").exists() and leftovers(tmp_path) == []


def test_size_mismatch(server, tmp_path):
    with pytest.raises(NepflowError, match="size mismatch"):
        download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", size=len(DATA) + 1, retry=FAST, sleep=Sleeps())


def test_timeout_then_success_and_timeout_always(server, tmp_path):
    server.faults["/files/a.hdf"].append({"stall": 5})
    rec = download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", retry=FAST, sleep=Sleeps())
    assert rec["sha256"] == SHA
    server.faults["/files/b.hdf"].extend([{"stall": 5}] * 2)
    with pytest.raises(NepflowError, match="after 2 tries"):
        download.fetch(
            f"{server.base}/files/b.hdf",
            tmp_path / "b.hdf",
            retry=dataclasses.replace(FAST, tries=2, backoff=0, read_timeout=0.3),
            sleep=Sleeps(),
        )
    assert not (tmp_path / "b.hdf").exists() and leftovers(tmp_path) == []


def test_client_errors_are_not_retried(server, tmp_path):
    sleeps = Sleeps()
    with pytest.raises(NepflowError, match="HTTP 404"):
        download.fetch(f"{server.base}/404", tmp_path / "x", retry=FAST, sleep=sleeps)
    with pytest.raises(NepflowError, match="credentials"):
        download.fetch(f"{server.base}/401", tmp_path / "x", retry=FAST, sleep=sleeps)
    assert sleeps == []


def test_failed_download_keeps_the_previous_file(server, tmp_path):
    (tmp_path / "a.hdf").write_bytes(b"previous complete file")
    server.faults["/files/a.hdf"].extend([{"truncate": 10}] * 3)
    with pytest.raises(NepflowError):
        download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", retry=FAST, sleep=Sleeps())
    assert (tmp_path / "a.hdf").read_bytes() == b"previous complete file"


def test_connection_refused_is_transient(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    sleeps = Sleeps()
    with pytest.raises(NepflowError, match="after 2 tries"):
        download.fetch(
            f"http://127.0.0.1:{port}/x",
            tmp_path / "x",
            retry=dataclasses.replace(FAST, tries=2, backoff=0.01),
            sleep=sleeps,
        )
    assert len(sleeps) == 1


def test_call_retries_transient_api_errors():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            r = requests.Response()
            r.status_code = 503
            r.headers["Retry-After"] = "2"
            raise requests.HTTPError("503 Server Error", response=r)
        return "ok"

    sleeps = Sleeps()
    assert download.call(flaky, "search", FAST, sleep=sleeps) == "ok"
    assert sleeps == [2.0, 2.0]
    with pytest.raises(NepflowError, match=r"^search failed: ValueError: bad query$"):
        download.call(lambda: (_ for _ in ()).throw(ValueError("bad query")), "search", FAST, sleep=sleeps)


def test_manifest_complete_and_changes(tmp_path):
    (tmp_path / "a.bin").write_bytes(DATA)
    m = tmp_path / "2001.json"
    download.write_manifest(
        m, {"source": "x", "version": "061", "files": [{"name": "a.bin", "url": "u", "size": len(DATA), "sha256": SHA}]}
    )
    assert json.loads(m.read_text())["manifest_version"] == download.MANIFEST_VERSION
    assert download.is_complete(m, {"version": "061"})
    assert not download.is_complete(m, {"version": "062"})
    (tmp_path / "a.bin").write_bytes(DATA[:-1] + b"\x00")  # same size, other content
    assert download.is_complete(m, verify="size")
    assert not download.is_complete(m)
    assert not download.is_complete(tmp_path / "missing.json")


def test_secrets_never_written_or_shown(monkeypatch, tmp_path):
    monkeypatch.setenv("CDSAPI_KEY", "s3cr3t-key-value")
    assert download.redact("key=s3cr3t-key-value!") == "key=***!"
    with pytest.raises(NepflowError, match="credential"):
        download.write_manifest(tmp_path / "m.json", {"request": {"key": "s3cr3t-key-value"}})
    assert not (tmp_path / "m.json").exists()
    assert (
        download.clean_url("https://user:pw@host:8443/a/b.nc?token=abc&x=1&X-Amz-Signature=zz")
        == "https://host:8443/a/b.nc?x=1"
    )


def test_progress_draws_only_on_a_terminal():
    class Tty(stdio.StringIO):
        def isatty(self):
            return True

    tty, plain = Tty(), stdio.StringIO()
    for stream in (tty, plain):
        p = download.Progress("a.hdf", 2_000_000, stream=stream, interval=0)
        p.update(1_000_000)
        p.close()
    assert "\ra.hdf: 1.0 / 2.0 MB ( 50 %)" in tty.getvalue() and tty.getvalue().endswith("\n")
    assert plain.getvalue() == ""


def test_netguard_refuses_other_addresses():
    with NetGuard() as guard:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("192.0.2.1", 80), timeout=1)  # TEST-NET-1: refused before any packet
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("example.invalid", 80)
    assert guard.blocked == ["192.0.2.1:80", "lookup example.invalid"]


def test_retry_config():
    r = download.Retry.from_config(nconfig.defaults("sources.download", {"tries": 2, "backoff": 1, "verify": "size"}))
    assert r.tries == 2 and r.timeout == (20.0, 120.0)
    with pytest.raises(NepflowError, match="sources.download"):
        download.Retry.from_config(nconfig.defaults("sources.download", {"tries": 0}))
    with pytest.raises(NepflowError, match="unknown key"):
        download.Retry.from_config(nconfig.defaults("sources.download", {"retries": 3}))


def test_other_jobs_temporary_files_are_left_alone(server, tmp_path):
    other = tmp_path / ".a.hdf.k3j4h5.part"  # another job fetching the same shared granule right now
    other.write_bytes(b"in progress")
    download.fetch(f"{server.base}/files/a.hdf", tmp_path / "a.hdf", retry=FAST, sleep=Sleeps())
    assert other.read_bytes() == b"in progress" and (tmp_path / "a.hdf").read_bytes() == DATA


def test_outputs_accept_the_year_wildcard():
    from nepflow.sources import cds, earthdata, proxy, stations

    cfg = nconfig.defaults(
        "sources", {"bbox": [110, 34, 123, 43], "earthdata": {"tiles": ["h26v04"]}, "stations": {"file": "s.csv"}}
    )
    assert cds.outputs("meteo", "{year}", cfg)["manifest"].endswith("/{year}.json")
    assert earthdata.outputs("fpar", "{year}", cfg)["manifest"] == "MOD15A2H.061/{year}/fpar-h26v04.json"
    assert stations.outputs("sunshine", "{year}", cfg)["manifest"].endswith("/{year}.json")
    assert proxy.outputs("sunshine", "{year}", cfg)["data"].endswith("/{year}.nc")
    assert cds.outputs("meteo", 2001, cfg)["manifest"] == cds.outputs("meteo", "{year}", cfg)["manifest"].format(
        year=2001
    )
