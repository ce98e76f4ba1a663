"""Shared download machinery of the real data sources (earthdata, cds, stations).

Every file a retrieve job fetches goes through :func:`fetch`:

- the body streams to a temporary name beside the target (``.<name>.<random>``)
  and is moved into place (``os.replace``) only when it is whole and verified,
  so a killed job or a failed transfer never leaves a file that looks finished;
- whole means: as many bytes as the server's ``Content-Length`` announced and
  as the catalogue's size says (when known), and the catalogue's checksum
  (MD5, SHA-1, SHA-256, SHA-384 or SHA-512; CMR gives one per granule) matches;
- transient failures are retried a bounded number of times with exponential
  backoff: HTTP 408, 429 and 5xx, connection errors, timeouts (connect and
  read, so a stalled server cannot hang a job), a truncated body and a
  checksum or size mismatch. A 429 or 503 with ``Retry-After`` (seconds or an
  HTTP date) waits that long, capped by ``max_wait``. Other 4xx answers are
  not retried, nor an HTML page served instead of the file (a login page: the
  credentials were refused). After the last try the job stops with one line naming the file
  and the reason (:class:`~nepflow.errors.NepflowError`);
- the sha256 of every file is computed while it streams and recorded in the
  per-year manifest (:func:`write_manifest`): granule names, URLs (without
  credentials), sizes, sha256, product versions and the request. No retrieval
  time is recorded, so the same data give the same manifest.

A retrieve job is skipped when :func:`is_complete` finds its manifest and every
file it lists with the recorded size and sha256. Progress goes to a terminal as
one updating line (no tqdm); in a log file only start and end lines appear.

Credentials never reach logs, manifests, params or errors: URLs are cleaned of
user info and secret-looking query parameters (:func:`clean_url`), and
:func:`redact` removes the values of the credential environment variables from
any text before it is logged or raised.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import random
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .. import files
from ..errors import NepflowError

log = logging.getLogger("nepflow.download")

#: Environment variables whose values are secrets (never logged or written).
SECRET_ENV = ("EARTHDATA_PASSWORD", "EARTHDATA_TOKEN", "CDSAPI_KEY")
#: Query parameter names treated as secrets in URLs (case-insensitive substrings).
SECRET_PARAMS = (
    "token",
    "key",
    "password",
    "passwd",
    "secret",
    "signature",
    "sig",
    "credential",
    "auth",
    "x-amz-security",
    "code",
)
#: Checksum algorithms as CMR (UMM-G) names them -> hashlib names.
HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA1": "sha1",
    "SHA-256": "sha256",
    "SHA256": "sha256",
    "SHA-2": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Retry:
    """How hard :func:`fetch` and :func:`call` try (config ``sources.download``, whose defaults the schema states).

    tries : attempts in total (>= 1).
    backoff : wait after the first failure (s); doubled after each further one,
        with up to 10 % random jitter.
    max_wait : cap on any single wait, including a server's Retry-After (s).
    connect_timeout, read_timeout : socket timeouts (s); the read timeout is
        the longest silence tolerated between two received chunks.
    """

    tries: int
    backoff: float
    max_wait: float
    connect_timeout: float
    read_timeout: float

    @classmethod
    def from_config(cls, cfg: dict) -> "Retry":
        """From the validated config's ``sources.download`` section (every key)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known - {"verify"})
        missing = sorted(known - set(cfg))
        if unknown or missing:
            raise NepflowError(
                f"config key sources.download: unknown key(s) {', '.join(unknown) or 'none'}, missing "
                f"{', '.join(missing) or 'none'}; expected {', '.join(sorted(known | {'verify'}))}"
            )
        out = cls(**{k: v for k, v in cfg.items() if k in known})
        if out.tries < 1 or out.backoff < 0 or out.max_wait < 0 or out.connect_timeout <= 0 or out.read_timeout <= 0:
            raise NepflowError(
                f"config key sources.download: expected tries >= 1, waits >= 0 and timeouts > 0, got {cfg}"
            )
        return out

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.max_wait))
        base = self.backoff * 2 ** (attempt - 1)
        return float(min(base * (1 + 0.1 * random.random()), self.max_wait))


class Transient(Exception):
    """A failure worth another try; ``retry_after`` is the server's hint (s) if any."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class Permanent(Exception):
    """A failure another try will not fix (HTTP 4xx other than 408/425/429)."""


# ---------------------------------------------------------------- secrets
def secrets() -> list[str]:
    """Values of the credential environment variables that are set (length >= 4)."""
    return [v for k in SECRET_ENV if (v := os.environ.get(k)) and len(v) >= 4]


def redact(text: str, extra: tuple[str, ...] | list[str] = ()) -> str:
    """``text`` with every known secret replaced by ``***``."""
    text = str(text)
    for s in sorted({*secrets(), *(e for e in extra if e and len(e) >= 4)}, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def clean_url(url: str) -> str:
    """``url`` without user info and without secret-looking query parameters."""
    parts = urlsplit(str(url))
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not any(s in k.lower() for s in SECRET_PARAMS)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(redact(str(text)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- progress
class Progress:
    """One updating line on a terminal (``\\r``), nothing otherwise; no tqdm.

    On a non-terminal stream (a Snakemake log) only the start and end lines
    that :func:`fetch` logs appear.
    """

    def __init__(self, label: str, total: int | None, stream=None, interval: float = 0.5):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval, self._last = interval, 0.0

    def update(self, n: int) -> None:
        self.done += n
        if self.tty and (now := time.monotonic()) - self._last >= self.interval:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        mb = self.done / 1e6
        if self.total:
            text = f"\r{self.label}: {mb:,.1f} / {self.total / 1e6:,.1f} MB ({100 * self.done / self.total:3.0f} %)"
        else:
            text = f"\r{self.label}: {mb:,.1f} MB"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- HTTP
def session():
    """A plain requests session (sources pass their own authenticated one)."""
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = "nepflow"
    return s


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delay seconds or an HTTP date); None if absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


#: What a refused request (HTTP 401/403, or a login page) says when the source gives no hint of its own.
DENIED = "check the credentials and that the data's licence/EULA is accepted"


def _status_error(resp, what: str, denied: str | None = None) -> Exception:
    code = resp.status_code
    if code in RETRY_STATUS or 500 <= code < 600:
        return Transient(f"HTTP {code} {resp.reason or ''}".strip(), parse_retry_after(resp.headers.get("Retry-After")))
    if code in (401, 403):
        return Permanent(f"HTTP {code}: access denied; {denied or DENIED}")
    return Permanent(f"HTTP {code} {resp.reason or ''}".strip())


def is_login_page(content_type: str | None, head: bytes = b"") -> bool:
    """Whether a response that should be a data file is an HTML page (a login form after a redirect)."""
    if (content_type or "").split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    start = head.lstrip()[:64].lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _hasher(checksum):
    if not checksum:
        return None
    alg = HASHES.get(str(checksum[0]).upper())
    return hashlib.new(alg) if alg else None


def _attempt(url, dest: Path, sess, retry: Retry, size, checksum, headers, label, denied=None) -> dict:
    import requests

    sha = hashlib.sha256()
    other = _hasher(checksum)
    written = 0
    try:
        # other jobs' temporary files of the same name are left alone: two jobs may fetch the same shared
        # granule at once (e.g. the 2000 land-cover job and the 2001 one); the last complete copy wins
        with files.atomic_path(dest, suffix=".part", clean_stale=False) as tmp:
            try:
                resp = sess.get(url, stream=True, timeout=retry.timeout, headers=headers or {}, allow_redirects=True)
            except requests.RequestException as exc:  # connection refused/reset, timeouts, bad redirects
                raise Transient(f"{type(exc).__name__}: {exc}") from None
            with resp:
                if resp.status_code >= 400:
                    raise _status_error(resp, label, denied)
                if is_login_page(resp.headers.get("Content-Type")):  # a data file never comes as HTML
                    raise Permanent(
                        f"the server sent an HTML page (a login page) instead of the file: "
                        f"authentication failed; {denied or DENIED}"
                    )
                announced = resp.headers.get("Content-Length")
                announced = (
                    int(announced)
                    if announced and announced.isdigit() and not resp.headers.get("Content-Encoding")
                    else None
                )
                bar = Progress(label, announced or size)
                try:
                    with open(tmp, "wb") as f:
                        for chunk in resp.iter_content(chunk_size=1 << 20):
                            f.write(chunk)
                            sha.update(chunk)
                            if other is not None:
                                other.update(chunk)
                            written += len(chunk)
                            bar.update(len(chunk))
                except requests.RequestException as exc:  # read timeout, reset, short chunked body
                    raise Transient(f"transfer interrupted after {written} bytes ({type(exc).__name__})") from None
                finally:
                    bar.close()
            if announced is not None and written != announced:
                raise Transient(f"truncated body: {written} of {announced} bytes")
            if size is not None and written != int(size):
                raise Transient(f"size mismatch: got {written} bytes, the catalogue says {int(size)}")
            if other is not None and other.hexdigest().lower() != str(checksum[1]).lower():
                raise Transient(f"{checksum[0]} checksum mismatch")
    except NepflowError as exc:  # the cache folder itself cannot be written: no retry helps
        raise Permanent(str(exc)) from None
    except OSError as exc:  # disk full, permissions (requests' own errors were handled above)
        raise Permanent(f"cannot write {dest}: {exc.strerror or exc}") from None
    record = {"name": dest.name, "url": clean_url(url), "size": written, "sha256": sha.hexdigest()}
    if checksum and other is not None:
        record["checksum"] = {"algorithm": str(checksum[0]), "value": str(checksum[1]).lower()}
    return record


def fetch(
    url: str,
    dest,
    *,
    sess=None,
    size: int | None = None,
    checksum: tuple[str, str] | None = None,
    retry: Retry,
    headers: dict | None = None,
    sleep=time.sleep,
    denied: str | None = None,
) -> dict:
    """Download ``url`` to ``dest`` atomically, verified, with bounded retries.

    Parameters
    ----------
    url : HTTP(S) URL.
    dest : target path; its folder is created.
    sess : a requests session (e.g. earthaccess's authenticated one); default a plain one.
    size : expected size in bytes (from the catalogue), or None.
    checksum : (algorithm, hex value) from the catalogue, e.g. ("MD5", "…"), or None.
    retry : the retry policy (:meth:`Retry.from_config` of ``sources.download``).
    headers : extra request headers.
    sleep : the sleep function (tests pass a recorder).
    denied : what to tell the user when the server refuses the credentials (HTTP
        401/403, or an HTML login page instead of the file; never retried).

    Returns
    -------
    The manifest record: ``{"name", "url", "size", "sha256"[, "checksum"]}``.

    Raises
    ------
    NepflowError : one line naming the file, the host and the last reason.
    """
    dest = Path(dest)
    sess = sess or session()
    label = dest.name
    host = urlsplit(url).netloc.rsplit("@", 1)[-1]
    log.info("downloading %s from %s", label, clean_url(url))
    for attempt in range(1, retry.tries + 1):
        try:
            record = _attempt(url, dest, sess, retry, size, checksum, headers, label, denied)
            log.info("%s: %d bytes, sha256 %s", label, record["size"], record["sha256"])
            return record
        except Permanent as exc:
            raise NepflowError(f"download of {label} from {host} failed: {_one_line(exc)}") from None
        except Transient as exc:
            if attempt == retry.tries:
                raise NepflowError(
                    f"download of {label} from {host} failed after {retry.tries} tries: {_one_line(exc)}"
                ) from None
            wait = retry.wait(attempt, exc.retry_after)
            log.warning("%s: %s; retry %d of %d in %.1f s", label, _one_line(exc), attempt, retry.tries - 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def call(fn, what: str, retry: Retry, sleep=time.sleep, transient=None):
    """Call ``fn()`` with bounded retries on transient failures (catalogue searches, API requests).

    ``transient(exc) -> (bool, retry_after | None)`` classifies an exception;
    the default treats requests' connection errors and timeouts, HTTP 408/429/5xx
    (with Retry-After) and :class:`Transient` as transient. Anything else, or
    the last failure, becomes one NepflowError line starting with ``what``.
    """
    transient = transient or retry_advice
    for attempt in range(1, retry.tries + 1):
        try:
            return fn()
        except NepflowError:
            raise
        except Exception as exc:  # noqa: BLE001  (classified below)
            again, after = transient(exc)
            if not again or attempt == retry.tries:
                tries = f" after {attempt} tries" if again else ""
                raise NepflowError(f"{what} failed{tries}: {_one_line(f'{type(exc).__name__}: {exc}')}") from None
            wait = retry.wait(attempt, after)
            log.warning("%s: %s; retry %d of %d in %.1f s", what, _one_line(exc), attempt, retry.tries - 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def retry_advice(exc: BaseException) -> tuple[bool, float | None]:
    """(transient?, Retry-After seconds) of an exception from an HTTP client."""
    import requests

    if isinstance(exc, Transient):
        return True, exc.retry_after
    if isinstance(exc, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return True, None
    resp = getattr(exc, "response", None)
    if resp is not None and getattr(resp, "status_code", None) is not None:
        code = resp.status_code
        if code in RETRY_STATUS or 500 <= code < 600:
            return True, parse_retry_after(resp.headers.get("Retry-After"))
        return False, None
    return False, None


# ---------------------------------------------------------------- manifests
def write_manifest(path, manifest: dict) -> Path:
    """Write a per-year manifest (sorted keys, 1 record per file), atomically.

    Raises if any credential value would end up in it.
    """
    manifest = {"manifest_version": MANIFEST_VERSION, **manifest}
    text = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if redact(text) != text:
        raise NepflowError(f"{path}: refusing to write a manifest that contains a credential")
    return files.write_text(text, path)


def read_manifest(path) -> dict | None:
    """The manifest at ``path``, or None if missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def file_ok(path: Path, record: dict, verify: str = "sha256") -> bool:
    """Whether ``path`` exists with the record's size (and sha256 if ``verify`` is sha256)."""
    from ..provenance import file_sha256

    try:
        if path.stat().st_size != int(record["size"]):
            return False
    except (OSError, KeyError, ValueError):
        return False
    return verify != "sha256" or file_sha256(path) == record.get("sha256")


def is_complete(manifest_path, expect: dict | None = None, verify: str = "sha256") -> bool:
    """True if the manifest exists, its fields equal ``expect`` and every listed file matches it.

    Files are listed under ``files`` (paths relative to the manifest's folder,
    or under ``folder`` if the manifest names one); ``verify`` is ``sha256``
    (recompute every file's sha256) or ``size``.
    """
    manifest_path = Path(manifest_path)
    m = read_manifest(manifest_path)
    if m is None or m.get("manifest_version") != MANIFEST_VERSION:
        return False
    for k, v in (expect or {}).items():
        if m.get(k) != v:
            log.info("%s: %s changed (%r -> %r); retrieving again", manifest_path.name, k, m.get(k), v)
            return False
    base = manifest_path.parent / m.get("folder", ".")
    for rec in m.get("files", []):
        if not file_ok(base / rec["name"], rec, verify):
            log.info(
                "%s: %s is missing or differs from the manifest; retrieving again", manifest_path.name, rec["name"]
            )
            return False
    return True


def request_bbox(config: dict, pad: float | None = None) -> list[float]:
    """[west, south, east, north] (degrees) to request: ``sources.bbox``, or the target grid's
    lon/lat bounds (``grid.bounds``, else the region's outline) padded by ``pad``
    (default ``sources.pad``), rounded outward to 0.1°. ``config``: the validated config."""
    import math

    from pyproj import Transformer

    from .. import grid, regions

    src = config["sources"]
    if src["bbox"]:
        return [float(v) for v in src["bbox"]]
    pad = float(src["pad"] if pad is None else pad)
    g = config["grid"]
    crs = grid.parse_crs(g["crs"])
    if g["bounds"]:
        w, s, e, n = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform_bounds(
            *g["bounds"], densify_pts=21
        )
    else:
        w, s, e, n = grid.region_bounds(regions.shapes_from_config(config["region"]), grid.parse_crs("EPSG:4326"))
    return [
        math.floor((w - pad) * 10) / 10,
        math.floor((s - pad) * 10) / 10,
        math.ceil((e + pad) * 10) / 10,
        math.ceil((n + pad) * 10) / 10,
    ]


def source_config(config: dict) -> dict:
    """What the real sources take as ``cfg``: the config's ``sources`` section plus ``bbox``
    (:func:`request_bbox`) and ``meteo`` (the meteo source, for the sunshine proxy)."""
    src = dict(config["sources"])
    src["bbox"] = request_bbox(config)
    return src
