"""Local stand-ins for NASA Earthdata and the Copernicus CDS, and a network guard.

Everything listens on 127.0.0.1 only. The servers speak the protocols the real
clients use, so nepflow's code runs unchanged against them:

- :class:`FakeCDS`: the CDS "retrieve" API as ``cdsapi`` 0.7.7 drives it through
  ``ecmwf-datastores-client`` (GET process, POST execution, poll the job's
  monitor link, GET results with the asset href and ``file:size``, download).
  It checks the ``PRIVATE-TOKEN`` header and serves ERA5-Land monthly means as
  the CDS delivers them today (:func:`era5_land_netcdf`, NetCDF4 with
  ``valid_time``/``latitude``/``longitude``, GRIB_* attributes; a zip of one file
  per GRIB step type when the request mixes them).
- :class:`FakeEarthdata`: one HTTPS server (self-signed certificate made with the
  ``openssl`` command; clients trust it through ``REQUESTS_CA_BUNDLE``) standing in
  for CMR (``/search/granules.umm_json`` with ``CMR-Hits``), Earthdata Login
  (``/api/users/find_or_create_token`` with basic auth, ``/profile``) and the
  LP DAAC data server (``/lp-prod-protected/...``, bearer token required).
  earthaccess reaches it through its own endpoint configuration,
  ``earthaccess.login(system=System(cmr_base_url=..., edl_hostname=...))``.
  earthaccess resends EDL requests with basic auth only when the answering
  host's *name* equals ``edl_hostname`` (ports are not compared), so a
  username/password login needs the server on the default port 443
  (``port=443``; root or CAP_NET_BIND_SERVICE); token logins work on any port.
- :func:`write_modis_tile`: HDF4-EOS tiles written with pyhdf with the real SDS
  names, types, attributes (scale_factor, _FillValue, valid_range, units) and
  the ``StructMetadata.0`` GridStructure of real MODIS files.
- Fault injection per URL path: queue dicts on ``server.faults[path]``; each
  request to that path consumes one: ``{"status": 500}``,
  ``{"status": 429, "retry_after": "1"}``, ``{"truncate": 100}`` (announce the
  full length, send 100 bytes, close), ``{"corrupt": True}`` (same length, one
  byte flipped), ``{"stall": 5}`` (send headers, then stay silent).
- :class:`NetGuard`: patches ``socket.socket.connect`` and ``socket.getaddrinfo``
  so only loopback addresses can be contacted; everything else is refused before
  a packet leaves and recorded in ``blocked``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
import uuid
import zipfile
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from nepflow.sources import modis

# ---------------------------------------------------------------- network guard


def _loopback(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


class NetGuard:
    """Refuse every connection and name lookup that is not loopback; record them."""

    def __init__(self):
        self.blocked: list[str] = []
        self.connected: list[str] = []
        self._saved = None

    def __enter__(self):
        guard = self
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo

        def check(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host = address[0]
                if not _loopback(host):
                    guard.blocked.append(f"{host}:{address[1]}")
                    raise ConnectionRefusedError(f"NetGuard: connection to {host} refused (tests stay on 127.0.0.1)")
                guard.connected.append(f"{host}:{address[1]}")

        def connect(sock, address):
            check(sock, address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            check(sock, address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host, *args, **kwargs):
            h = host.decode() if isinstance(host, bytes) else host
            if not _loopback(h):
                try:
                    ipaddress.ip_address(str(h))  # a literal address needs no lookup; connect() decides
                except ValueError:
                    guard.blocked.append(f"lookup {h}")
                    raise socket.gaierror(socket.EAI_NONAME, f"NetGuard: name lookup of {h} refused")
            return real_getaddrinfo(host, *args, **kwargs)

        self._saved = (real_connect, real_connect_ex, real_getaddrinfo)
        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
        socket.getaddrinfo = getaddrinfo
        return self

    def __exit__(self, *exc):
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = self._saved
        return False


#: earthaccess probes the AWS instance-metadata service (link-local 169.254.169.254) when it builds its
#: Store, to learn whether it runs in us-west-2. The guard refuses it before any packet is sent.
AWS_METADATA_PROBE = "169.254.169.254:80"


# ---------------------------------------------------------------- HTTP plumbing
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _dispatch(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.app.dispatch(self, method, body)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("HEAD")


class Server:
    """A threaded HTTP(S) server on 127.0.0.1 with fault injection and a request log."""

    def __init__(self, tls_dir: Path | None = None, port: int = 0):
        self.faults: dict[str, deque] = defaultdict(deque)
        self.requests: list[dict] = []
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self
        self.scheme = "http"
        self.cafile = None
        if tls_dir is not None:
            cert, key = self_signed_cert(Path(tls_dir))
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
            self.cafile = str(cert)
        self.port = self.httpd.server_address[1]
        default = {"http": 80, "https": 443}[self.scheme]
        self.host = "127.0.0.1" if self.port == default else f"127.0.0.1:{self.port}"
        self.base = f"{self.scheme}://{self.host}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        return False

    # -- responses
    def dispatch(self, h: _Handler, method: str, body: bytes):
        parts = urlsplit(h.path)
        self.requests.append(
            {
                "method": method,
                "path": parts.path,
                "query": parts.query,
                "headers": dict(h.headers.items()),
                "body": body,
            }
        )
        try:
            self.handle(h, method, parts.path, parse_qs(parts.query, keep_blank_values=True), body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            h.close_connection = True

    def handle(self, h, method, path, query, body):  # overridden
        self.send(h, 404, b"not found")

    def send(self, h, status: int, body: bytes = b"", content_type: str = "text/plain", headers=None):
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def send_json(self, h, status: int, obj, headers=None):
        self.send(h, status, json.dumps(obj).encode(), "application/json", headers)

    def send_file(self, h, path: str, data: bytes, content_type="application/octet-stream"):
        """Send ``data`` for ``path``, applying the next queued fault of that path."""
        fault = self.faults[path].popleft() if self.faults[path] else {}
        if "status" in fault:
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            self.send(h, fault["status"], b"injected failure", headers=headers)
            return
        if fault.get("corrupt"):
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if "truncate" in fault:
            h.wfile.write(data[: fault["truncate"]])
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if "stall" in fault:
            h.wfile.write(data[: len(data) // 4])
            h.wfile.flush()
            self._stop.wait(fault["stall"])
            h.close_connection = True
            return
        h.wfile.write(data)


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (``openssl req``), reused if present."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not cert.exists():
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
        )
    return cert, key


# ---------------------------------------------------------------- CDS
class FakeCDS(Server):
    """The CDS retrieve API (``{base}/api``) as cdsapi 0.7.7 / ecmwf-datastores-client 0.5 use it.

    ``make_file(collection_id, inputs) -> (filename, bytes, content_type)`` builds the
    delivered file. ``polls_before_success`` sets how many status polls answer
    ``running`` first. ``fail_job`` makes jobs end ``failed`` with an error message.
    ``poll_faults``: HTTP statuses answered to the first status polls of a job (a
    failed poll, as the real service gives under load).
    """

    def __init__(self, key: str, make_file, polls_before_success: int = 0, fail_job: str | None = None, poll_faults=()):
        super().__init__()
        self.key, self.make_file = key, make_file
        self.polls_before_success, self.fail_job = polls_before_success, fail_job
        self.poll_faults = deque(poll_faults)
        self.url = f"{self.base}/api"
        self.jobs: dict[str, dict] = {}

    def handle(self, h, method, path, query, body):
        if path.startswith("/download/"):
            job = self.jobs.get(path.split("/")[2])
            if job is None:
                return self.send(h, 404, b"no such file")
            return self.send_file(h, path, job["data"], job["type"])
        if path == "/api/catalogue/v1/messages":  # service messages, read when a client starts
            return self.send_json(h, 200, {"messages": []})
        if not path.startswith("/api/retrieve/v1/"):
            return self.send_json(h, 404, {"title": "not found"})
        if h.headers.get("PRIVATE-TOKEN") != self.key:
            return self.send_json(
                h, 401, {"title": "Authentication failed", "detail": "operation not allowed for anonymous users"}
            )
        fault = self.faults[path].popleft() if self.faults[path] else None
        if fault:
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            return self.send(h, fault["status"], b"injected failure", headers=headers)
        rest = path[len("/api/retrieve/v1/") :].strip("/").split("/")
        if rest[0] == "processes" and len(rest) == 2 and method == "GET":
            return self.send_json(
                h,
                200,
                {
                    "id": rest[1],
                    "title": rest[1],
                    "version": "1.0.0",
                    "links": [{"href": f"{self.url}/retrieve/v1/processes/{rest[1]}", "rel": "self"}],
                },
            )
        if rest[0] == "processes" and len(rest) == 3 and rest[2] == "execution" and method == "POST":
            inputs = json.loads(body)["inputs"]
            jid = str(uuid.uuid4())
            self.jobs[jid] = {"process": rest[1], "inputs": inputs, "polls": 0}
            return self.send_json(
                h,
                201,
                {
                    "processID": rest[1],
                    "type": "process",
                    "jobID": jid,
                    "status": "accepted",
                    "created": "2026-01-01T00:00:00",
                    "links": [
                        {"href": f"{self.url}/retrieve/v1/jobs/{jid}", "rel": "monitor", "type": "application/json"}
                    ],
                },
            )
        if rest[0] == "jobs" and len(rest) >= 2 and rest[1] in self.jobs:
            jid, job = rest[1], self.jobs[rest[1]]
            if len(rest) == 2 and method == "DELETE":
                return self.send_json(h, 200, {"jobID": jid, "status": "dismissed"})
            if len(rest) == 2:
                if self.poll_faults:
                    return self.send(h, self.poll_faults.popleft(), b"injected poll failure")
                if "log" in query:
                    job["polls"] += 1
                status = "successful" if job["polls"] > self.polls_before_success else "running"
                if self.fail_job:
                    status = "failed"
                return self.send_json(
                    h,
                    200,
                    {
                        "processID": job["process"],
                        "jobID": jid,
                        "status": status,
                        "type": "process",
                        "created": "2026-01-01T00:00:00",
                        "updated": "2026-01-01T00:00:01",
                        "metadata": {"request": {"ids": job["inputs"]}, "log": []},
                        "links": [{"href": f"{self.url}/retrieve/v1/jobs/{jid}/results", "rel": "results"}],
                    },
                )
            if rest[2] == "results":
                if self.fail_job:
                    return self.send_json(h, 400, {"title": "The job has failed", "traceback": self.fail_job})
                if "data" not in job:
                    name, data, ctype = self.make_file(job["process"], job["inputs"])
                    job.update(name=name, data=data, type=ctype)
                return self.send_json(
                    h,
                    200,
                    {
                        "asset": {
                            "value": {
                                "type": job["type"],
                                "href": f"{self.base}/download/{jid}/{job['name']}",
                                "file:size": len(job["data"]),
                                "file:checksum": None,
                            }
                        }
                    },
                )
        return self.send_json(h, 404, {"title": "not found"})


ERA5_VARS = {  # short name -> (long name, units, GRIB stepType, GRIB paramId)
    "t2m": ("2 metre temperature", "K", "avgua", 167),
    "tp": ("Total precipitation", "m", "avgad", 228),
    "ssrd": ("Surface short-wave (solar) radiation downwards", "J m**-2", "avgad", 169),
    "ssr": ("Surface net short-wave (solar) radiation", "J m**-2", "avgad", 176),
    "str": ("Surface net long-wave (thermal) radiation", "J m**-2", "avgad", 177),
    "e": ("Total evaporation", "m of water equivalent", "avgad", 182),
}
REQUEST_TO_SHORT = {
    "2m_temperature": "t2m",
    "total_precipitation": "tp",
    "surface_solar_radiation_downwards": "ssrd",
    "surface_net_solar_radiation": "ssr",
    "surface_net_thermal_radiation": "str",
    "total_evaporation": "e",
}


def era5_land_fields(year: int, lat, lon) -> dict[str, np.ndarray]:
    """Deterministic ERA5-Land-like monthly means (native units) on (12, lat, lon)."""
    m = np.arange(1, 13)[:, None, None]
    la, lo = np.asarray(lat)[None, :, None], np.asarray(lon)[None, None, :]
    season = np.cos(2 * np.pi * (m - 7) / 12)
    out = {
        "t2m": 283.15 + 14 * season - 0.8 * (la - 38) + 0.1 * (lo - 116) + 0.01 * (year - 2000),
        "tp": 0.0005 + 0.004 * np.clip(season, 0, None) + 0.0001 * (lo - 110) / 13 + 0 * la,
        "ssrd": 1.5e7 + 7e6 * season + 0 * la + 0 * lo,
        "ssr": 1.2e7 + 6e6 * season + 0 * la + 0 * lo,
        "str": -6e6 + 1e6 * season + 0 * la + 0 * lo,
        "e": -(0.0003 + 0.002 * np.clip(season, 0, None)) + 0 * la + 0 * lo,
    }
    return {k: v.astype("float32") for k, v in out.items()}


#: The sea of the fake CDS: the Bohai and the coasts around it (W, S, E, N), with the provinces on them.
BOHAI = (117.5, 37.0, 122.5, 41.0)
BOHAI_PROVINCES = ("Beijing", "Tianjin", "Hebei", "Shandong", "Liaoning")


@functools.lru_cache(maxsize=1)
def _bohai_land():
    from nepflow import regions
    from shapely import prepared

    return [prepared.prep(g) for g in regions.province_shapes(BOHAI_PROVINCES).values()]


def land_fraction(lat, lon, resolution: float, k: int = 4) -> np.ndarray:
    """Land fraction (0-1) of each lon/lat cell (centres ``lat`` x ``lon``), a stand-in for ERA5-Land's
    land-sea mask: the share of k x k points of the cell that are not sea, sea being the points of the
    :data:`BOHAI` box outside the outlines (cnmaps) of the provinces around it."""
    import shapely

    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    off = ((np.arange(k) + 0.5) / k - 0.5) * resolution
    py = (lat[:, None] + off[None, :]).ravel()
    px = (lon[:, None] + off[None, :]).ravel()
    w, s, e, n = BOHAI
    if px.max() < w or px.min() > e or py.max() < s or py.min() > n:
        return np.ones((lat.size, lon.size))
    xx, yy = np.meshgrid(px, py)
    sea = (xx >= w) & (xx <= e) & (yy >= s) & (yy <= n)
    for geom in _bohai_land():
        sea &= ~shapely.contains_xy(geom.context, xx, yy)
    return 1 - sea.reshape(lat.size, k, lon.size, k).mean(axis=(1, 3))


def era5_land_netcdf(
    year: int, area, variables, resolution: float = 0.1, fields=None, sea_mask: bool = True
) -> dict[str, bytes]:
    """ERA5-Land monthly means as the CDS delivers them today: {file name: NetCDF4 bytes}.

    One file per GRIB step type (``data_stream-moda_stepType-avgua.nc`` holds
    t2m, ``..._stepType-avgad.nc`` the accumulations), with ``valid_time``
    (int64 seconds since 1970), descending ``latitude``, ``longitude`` in -180..180,
    scalar ``number``, ``expver`` strings and GRIB_* attributes; no value (NaN) over the sea
    (``sea_mask``: cells less than half land, :func:`land_fraction`), as ERA5-Land masks its oceans.
    """
    import pandas as pd
    import xarray as xr

    n, w, s, e = area
    lat = np.round(np.arange(n, s - resolution / 2, -resolution), 6)
    lon = np.round(np.arange(w, e + resolution / 2, resolution), 6)
    short = [REQUEST_TO_SHORT[v] for v in variables]
    data = dict(fields or era5_land_fields(year, lat, lon))
    if sea_mask:  # ERA5-Land has no value over the sea: cells whose land-sea mask is below 0.5
        sea = land_fraction(lat, lon, resolution) < 0.5
        data = {k: np.where(sea[None], np.float32(np.nan), v).astype(v.dtype) for k, v in data.items()}
    time = pd.date_range(f"{year}-01-01", periods=12, freq="MS")
    out = {}
    for step in ("avgua", "avgad"):
        names = [v for v in short if ERA5_VARS[v][2] == step]
        if not names:
            continue
        ds = xr.Dataset(
            coords={
                "number": (
                    (),
                    np.int64(0),
                    {"long_name": "ensemble member numerical id", "units": "1", "standard_name": "realization"},
                ),
                "valid_time": ("valid_time", time, {"long_name": "time", "standard_name": "time"}),
                "latitude": (
                    "latitude",
                    lat,
                    {
                        "units": "degrees_north",
                        "standard_name": "latitude",
                        "long_name": "latitude",
                        "stored_direction": "decreasing",
                    },
                ),
                "longitude": (
                    "longitude",
                    lon,
                    {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"},
                ),
                "expver": ("valid_time", np.array(["0001"] * 12, dtype=object), {"long_name": "Experiment version"}),
            }
        )
        for v in names:
            long_name, units, stype, pid = ERA5_VARS[v]
            ds[v] = (
                ("valid_time", "latitude", "longitude"),
                data[v],
                {
                    "GRIB_paramId": pid,
                    "GRIB_dataType": "fc",
                    "GRIB_typeOfLevel": "surface",
                    "GRIB_stepType": stype,
                    "GRIB_gridType": "regular_ll",
                    "GRIB_units": units,
                    "GRIB_shortName": v,
                    "long_name": long_name,
                    "units": units,
                    "standard_name": "unknown",
                },
            )
        ds.attrs = {
            "GRIB_centre": "ecmf",
            "GRIB_centreDescription": "European Centre for Medium-Range Weather Forecasts",
            "GRIB_subCentre": 0,
            "Conventions": "CF-1.7",
            "institution": "European Centre for Medium-Range Weather Forecasts",
            "history": 'GRIB to CDM+CF via cfgrib-0.9.15.0/ecCodes-2.39.0 with {"source": "data.grib"}',
        }
        enc = {"valid_time": {"units": "seconds since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int64"}}
        enc.update({v: {"zlib": True, "complevel": 1, "_FillValue": np.float32(np.nan)} for v in names})
        out[f"data_stream-moda_stepType-{step}.nc"] = _to_bytes(ds, enc)
    return out


def _to_bytes(ds, enc) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.nc"
        ds.to_netcdf(p, engine="netcdf4", format="NETCDF4", encoding=enc)
        return p.read_bytes()


def _from_bytes(data: bytes):
    import tempfile

    import xarray as xr

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.nc"
        p.write_bytes(data)
        return xr.load_dataset(p, engine="netcdf4")


def cds_delivery(fields=None, zipped: bool = True, sea_mask: bool = True):
    """A ``make_file`` for :class:`FakeCDS`: a zip of the per-step-type files (or one NetCDF)."""

    def make(collection_id, inputs):
        year = int(inputs["year"][0] if isinstance(inputs["year"], list) else inputs["year"])
        files = era5_land_netcdf(year, inputs["area"], inputs["variable"], fields=fields, sea_mask=sea_mask)
        if not zipped:
            import xarray as xr

            merged = xr.merge([_from_bytes(b) for b in files.values()], compat="override")
            return f"{uuid.uuid4().hex}.nc", _to_bytes(merged, {}), "application/netcdf"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, data in files.items():
                z.writestr(name, data)
        return f"{uuid.uuid4().hex}.zip", buf.getvalue(), "application/zip"

    return make


# ---------------------------------------------------------------- Earthdata
class FakeEarthdata(Server):
    """CMR + Earthdata Login + LP DAAC data server on one HTTPS port.

    ``add_granule(path, short_name, version, begin, end, bbox)`` publishes a file;
    the UMM-G record carries its size and MD5 checksum (``checksum_override``
    publishes a wrong one). Credentials: ``username``/``password`` for EDL basic
    auth, which returns ``token``; data and profile requests need ``Bearer token``. As the
    real services do with an expired or revoked token: CMR answers a search carrying
    another bearer token with 401 and ``Token [...] has expired``; the data server answers
    401, or with ``login_page`` set the Earthdata Login page (200, HTML), where the real
    server's redirect to the OAuth login ends for a browser-less client. ``refuse`` (a set
    of ``cmr``, ``data``) makes those endpoints refuse every token, as when a token expires
    after the login.
    """

    def __init__(
        self, tls_dir: Path, username="nepflow-test-user", password="pw-fake-3141", token="tok-fake-2718", port: int = 0
    ):
        super().__init__(tls_dir=tls_dir, port=port)
        self.username, self.password, self.token = username, password, token
        self.granules: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.cmr_url = f"{self.base}/search/"
        self.login_page = False
        self.refuse: set[str] = set()

    def add_granule(
        self,
        path: Path,
        short_name: str,
        version: str,
        begin: str,
        end: str,
        bbox,
        checksum_override: str | None = None,
    ):
        path = Path(path)
        data = path.read_bytes()
        name = path.name
        url_path = f"/lp-prod-protected/{short_name}.{version}/{name[:-4]}/{name}"
        self.files[url_path] = data
        n = len(self.granules) + 1
        self.granules.append(
            {
                "meta": {
                    "concept-id": f"G{1000000 + n}-LPCLOUD",
                    "provider-id": "LPCLOUD",
                    "native-id": name[:-4],
                    "revision-id": 1,
                    "concept-type": "granule",
                    "collection-concept-id": f"C{abs(hash(short_name)) % 10**9}-LPCLOUD",
                },
                "umm": {
                    "GranuleUR": name[:-4],
                    "CollectionReference": {"ShortName": short_name, "Version": version},
                    "TemporalExtent": {
                        "RangeDateTime": {
                            "BeginningDateTime": f"{begin}T00:00:00.000Z",
                            "EndingDateTime": f"{end}T23:59:59.000Z",
                        }
                    },
                    "SpatialExtent": {
                        "HorizontalSpatialDomain": {
                            "Geometry": {
                                "BoundingRectangles": [
                                    {
                                        "WestBoundingCoordinate": bbox[0],
                                        "SouthBoundingCoordinate": bbox[1],
                                        "EastBoundingCoordinate": bbox[2],
                                        "NorthBoundingCoordinate": bbox[3],
                                    }
                                ]
                            }
                        }
                    },
                    "DataGranule": {
                        "DayNightFlag": "Day",
                        "ProductionDateTime": "2021-01-01T00:00:00.000Z",
                        "ArchiveAndDistributionInformation": [
                            {
                                "Name": name,
                                "SizeInBytes": len(data),
                                "Size": len(data) / 1e6,
                                "SizeUnit": "MB",
                                "Checksum": {
                                    "Value": checksum_override or hashlib.md5(data).hexdigest(),
                                    "Algorithm": "MD5",
                                },
                            },
                            {"Name": f"{name}.xml", "SizeInBytes": 100, "Size": 1e-4, "SizeUnit": "MB"},
                        ],
                    },
                    "RelatedUrls": [
                        {"URL": f"{self.base}{url_path}", "Type": "GET DATA", "Description": "Download " + name},
                        {"URL": f"s3:/{url_path}", "Type": "GET DATA VIA DIRECT ACCESS"},
                        {"URL": f"{self.base}{url_path}.xml", "Type": "EXTENDED METADATA"},
                    ],
                },
            }
        )
        return url_path

    def _basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def _authorized(self, h, basic_ok: bool = False) -> bool:
        auth = h.headers.get("Authorization")
        return auth == f"Bearer {self.token}" or (basic_ok and auth == self._basic())

    def _search(self, query) -> list[dict]:
        def one(key):
            for k in (key, f"{key}[]"):
                if k in query:
                    return query[k]
            return []

        out = []
        names, versions = one("short_name"), one("version")
        temporal, bbox = one("temporal"), one("bounding_box")
        for g in self.granules:
            u = g["umm"]
            if names and u["CollectionReference"]["ShortName"] not in names:
                continue
            if versions and u["CollectionReference"]["Version"] not in versions:
                continue
            rng = u["TemporalExtent"]["RangeDateTime"]
            if temporal:
                t0, t1 = temporal[0].split(",")[:2]
                if rng["EndingDateTime"][:10] < t0[:10] or rng["BeginningDateTime"][:10] > t1[:10]:
                    continue
            if bbox:
                w, s, e, n = (float(v) for v in bbox[0].split(","))
                r = u["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"]["BoundingRectangles"][0]
                if (
                    r["EastBoundingCoordinate"] < w
                    or r["WestBoundingCoordinate"] > e
                    or r["NorthBoundingCoordinate"] < s
                    or r["SouthBoundingCoordinate"] > n
                ):
                    continue
            out.append(g)
        return out

    def handle(self, h, method, path, query, body):
        if path.startswith("/search/granules"):
            fault = self.faults[path].popleft() if self.faults[path] else None
            if fault:
                return self.send(h, fault["status"], b"injected failure")
            auth = h.headers.get("Authorization")
            if auth and auth.startswith("Bearer ") and (auth != f"Bearer {self.token}" or "cmr" in self.refuse):
                expired = (
                    f"Token [Bearer {auth[7:12]}XXX] has expired. Note the token value has been partially redacted."
                )
                return self.send_json(h, 401, {"errors": [expired]})
            hits = self._search(query)
            size = int(query.get("page_size", ["10"])[0])
            offset = int(h.headers.get("cmr-search-after") or 0)
            page = hits[offset : offset + size] if size else []
            headers = {"CMR-Hits": str(len(hits)), "CMR-Took": "1"}
            if size and offset + size < len(hits):
                headers["CMR-Search-After"] = str(offset + size)
            return self.send_json(h, 200, {"hits": len(hits), "took": 1, "items": page}, headers)
        if path == "/api/users/find_or_create_token" and method == "POST":
            if h.headers.get("Authorization", "") != self._basic():
                return self.send_json(
                    h, 401, {"error": "invalid_credentials", "error_description": "Invalid user credentials"}
                )
            return self.send_json(
                h, 200, {"access_token": self.token, "token_type": "Bearer", "expiration_date": "12/31/2099"}
            )
        if path == "/profile":
            return self.send_json(h, 200 if self._authorized(h, basic_ok=True) else 401, {})
        if path in self.files:
            # the bearer token; or EDL basic credentials, which is what the real data servers' OAuth redirect to
            # URS amounts to (earthaccess answers it with basic auth when the host is the EDL host)
            if "data" in self.refuse or not self._authorized(h, basic_ok=True):
                if self.login_page:
                    page = (
                        b"<!DOCTYPE html>\n<html><head><title>Earthdata Login</title></head><body>"
                        b'<form action="/login" method="post"><input name="username">'
                        b'<input name="password" type="password"></form></body></html>\n'
                    )
                    return self.send(h, 200, page, "text/html; charset=utf-8")
                return self.send(h, 401, b"HTTP Basic: Access denied.")
            return self.send_file(h, path, self.files[path])
        return self.send(h, 404, b"not found")


# ---------------------------------------------------------------- MODIS HDF4-EOS tiles
MODIS_PRODUCTS = modis.PRODUCTS  # the SDS layouts (nepflow.sources.modis writes tiles as LP DAAC ships them)
TILE = 1111950.5196666666
X0, Y0 = -20015109.355798, 10007554.677199
struct_metadata = modis.struct_metadata


def modis_name(short: str, date: str, h: int, v: int, version="061", production="2021123456789") -> str:
    """A granule file name, e.g. MOD15A2H.A2001001.h26v04.061.2021123456789.hdf (date = YYYYDDD)."""
    return f"{short}.A{date}.h{h:02d}v{v:02d}.{version}.{production}.hdf"


def write_modis_tile(
    path: Path, short: str, h: int, v: int, arrays: dict[str, np.ndarray], struct: bool = True
) -> Path:
    """Write an HDF4-EOS MODIS tile with pyhdf: real SDS names, types and attributes (:func:`nepflow.sources.modis.write_tile`)."""
    return modis.write_tile(path, short, h, v, arrays, struct)


def tile_lonlat_bbox(h: int, v: int) -> tuple[float, float, float, float]:
    """Lon/lat bounding rectangle of a sinusoidal tile (as CMR's granule spatial extent)."""
    from pyproj import Transformer

    t = Transformer.from_crs("+proj=sinu +R=6371007.181 +units=m +no_defs", "EPSG:4326", always_xy=True)
    xs = X0 + h * TILE + np.linspace(0, TILE, 21)
    ys = Y0 - v * TILE - np.linspace(0, TILE, 21)
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = t.transform(xx, yy)
    ok = np.isfinite(lon) & (np.abs(lon) <= 180)
    return float(lon[ok].min()), float(lat[ok].min()), float(lon[ok].max()), float(lat[ok].max())


def scan_for(text_values, roots) -> list[str]:
    """Every file under ``roots`` (and every given string) containing one of ``text_values``."""
    hits = []
    needles = [t.encode() for t in text_values if t]
    for root in roots:
        root = Path(root)
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for p in files:
            data = p.read_bytes()
            if any(n in data for n in needles):
                hits.append(str(p))
    return hits


def env_without_credentials(monkeypatch, home: Path) -> None:
    """Point HOME/NETRC/CDSAPI_RC at an empty folder and drop credential variables."""
    for k in (
        "EARTHDATA_USERNAME",
        "EARTHDATA_PASSWORD",
        "EARTHDATA_TOKEN",
        "CDSAPI_URL",
        "CDSAPI_KEY",
        "NETRC",
        "CDSAPI_RC",
    ):
        monkeypatch.delenv(k, raising=False)
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(home / ".netrc"))
    monkeypatch.setenv("CDSAPI_RC", str(home / ".cdsapirc"))
