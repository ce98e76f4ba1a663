"""Peak memory of one real-data regrid job at 1 km over North China (scripts/regrid.py).

Builds a synthetic year in the real formats and sizes, then runs the regrid entry script from the
command line under ``/usr/bin/time -v`` and reports its maximum resident set size:

- target grid: EPSG:4326 at 0.01° over Beijing, Tianjin, Hebei, Shanxi, Shandong (scripts/grid.py);
- meteo: ERA5-Land monthly means as the CDS delivers them, 0.1° over 110-123 E, 34-43 N;
- fpar: 46 MOD15A2H 8-day composites x 4 sinusoidal tiles (h26v04, h26v05, h27v04, h27v05) at
  2400 x 2400 pixels (HDF4-EOS, as NASA sends them) with an earthdata manifest; water pixels,
  back-up retrievals, and a third of the rows without any retrieval in January-February (filled
  by interpolation in time);
- landcover: MCD12Q1 on the same 4 tiles;
- sunshine: a station CSV (100 stations), interpolated to 0.05°.

Methods as config/north_china.yaml: conservative for pr, ssrd, rn, evap; average for fpar and
c4_frac; bilinear for tas and sund.

    .venv/bin/python benchmarks/bench_regrid_memory.py [--workdir /tmp/nepflow-regrid-mem] [--tile 2400]
        [--resolution 0.01] [--coast-fill-km 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

BBOX = [110.0, 34.0, 123.0, 43.0]
TILES = [(26, 4), (26, 5), (27, 4), (27, 5)]
YEAR = 2005
METHODS = {
    "tas": "bilinear",
    "pr": "conservative",
    "ssrd": "conservative",
    "rn": "conservative",
    "evap": "conservative",
    "sund": "bilinear",
    "fpar": "average",
    "c4_frac": "average",
}


def build(wd: Path, n: int) -> dict:
    from fakeservers import era5_land_netcdf, modis_name, write_modis_tile
    from nepflow import config as nconfig, provenance
    from nepflow.sources import cds, download, stations

    data = wd / "data"
    inputs = {}
    # meteo: the CDS delivery merged into one NetCDF
    import xarray as xr

    meteo = data / "cds" / f"{YEAR}.nc"
    meteo.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    for name, blob in era5_land_netcdf(YEAR, [BBOX[3], BBOX[0], BBOX[1], BBOX[2]], list(cds.VARIABLES)).items():
        p = meteo.parent / name
        p.write_bytes(blob)
        parts.append(xr.load_dataset(p))
    xr.merge(parts, compat="override").to_netcdf(meteo)
    inputs["meteo"] = meteo
    # MODIS tiles
    rng = np.random.default_rng(1)
    rows, cols = np.mgrid[0:n, 0:n]
    for product, short in (("fpar", "MOD15A2H"), ("landcover", "MCD12Q1")):
        folder = data / "earthdata" / f"{short}.061" / str(YEAR)
        records = []
        doys = range(1, 366, 8) if product == "fpar" else [1]
        for h, v in TILES:
            for doy in doys:
                name = modis_name(short, f"{YEAR}{doy:03d}", h, v)
                path = folder / name
                if not path.exists():
                    if product == "fpar":
                        season = max(0.0, np.sin(np.pi * (doy - 80) / 230)) if 80 <= doy <= 310 else 0.0
                        dn = (15 + 60 * season + 10 * np.sin(rows / 300.0) + rng.integers(0, 5, (n, n))).astype(
                            np.uint8
                        )
                        dn[(rows // 97) % 23 == 0] = 254  # some water
                        if doy <= 57:
                            dn[rows % 3 == 0] = 255  # no retrieval in January-February: interpolated in time
                        arrays = {"Fpar_500m": dn, "FparLai_QC": ((rows + cols + doy) % 7 == 0).astype(np.uint8)}
                    else:
                        arrays = {"LC_Type1": np.where((cols // 200) % 3 == 0, 10, 12).astype(np.uint8)}
                    write_modis_tile(path, short, h, v, arrays)
                d = dt.date(YEAR, 1, 1) + dt.timedelta(days=doy - 1)
                records.append(
                    {
                        "name": name,
                        "size": path.stat().st_size,
                        "sha256": provenance.file_sha256(path),
                        "date": d.isoformat(),
                        "tile": f"h{h:02d}v{v:02d}",
                        "production": "2021123456789",
                    }
                )
        manifest = folder / f"{product}-h26v04_h26v05_h27v04_h27v05.json"
        download.write_manifest(
            manifest,
            {
                "source": "earthdata",
                "product": product,
                "short_name": short,
                "version": "061",
                "year": YEAR,
                "data_year": YEAR,
                "tiles": ["h26v04", "h26v05", "h27v04", "h27v05"],
                "bbox": BBOX,
                "fill_years": [],
                "files": records,
            },
        )
        inputs[product] = manifest
    # stations
    csv = data / "stations" / "stations.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    lines = ["station_id,lon,lat,date,hours"]
    lon, lat = rng.uniform(110.5, 122.5, 100), rng.uniform(34.5, 42.5, 100)
    for i in range(100):
        for m in range(1, 13):
            lines.append(
                f"S{i:03d},{lon[i]:.3f},{lat[i]:.3f},{YEAR}-{m:02d},{180 + 60 * np.sin(np.pi * (m - 2) / 8):.1f}"
            )
    csv.write_text("\n".join(lines) + "\n")
    scfg = nconfig.defaults("sources", {"bbox": BBOX, "stations": {"file": str(csv)}})
    out = {k: data / "stations" / v for k, v in stations.outputs("sunshine", YEAR, scfg).items()}
    stations.retrieve("sunshine", YEAR, scfg, out)
    inputs["sunshine"] = out["manifest"]
    return inputs


def run(cmd, log):
    proc = subprocess.run(["/usr/bin/time", "-v", *map(str, cmd)], capture_output=True, text=True)
    Path(log).write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[1]} failed:\n{proc.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", proc.stderr).group(1)
    return rss, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/nepflow-regrid-mem")
    ap.add_argument("--tile", type=int, default=2400, help="pixels per tile edge (2400: MODIS 500 m)")
    ap.add_argument("--resolution", type=float, default=0.01)
    ap.add_argument(
        "--coast-fill-km",
        type=float,
        default=20.0,
        help="regrid.coast_fill_km; with the fake CDS's sea mask, the Miaodao islands (120.6-120.9 E, "
        "38.0-38.4 N) are region pixels farther than 20 km from a land cell, and the job stops on them: "
        "100 lets it finish",
    )
    a = ap.parse_args()
    wd = Path(a.workdir)
    wd.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    inputs = build(wd, a.tile)
    print(f"inputs built in {time.time() - t0:.0f} s")
    py = sys.executable
    gparams = wd / "grid.yaml"
    gparams.write_text(
        yaml.safe_dump(
            {
                "grid": {"crs": "EPSG:4326", "resolution": a.resolution, "bounds": None},
                "region": {"provinces": ["Beijing", "Tianjin", "Hebei", "Shanxi", "Shandong"]},
            }
        )
    )
    run([py, ROOT / "scripts" / "grid.py", "--params", gparams, "--output", f"grid={wd / 'grid.nc'}"], wd / "grid.time")
    from nepflow import config as nconfig

    src = nconfig.defaults("sources")
    params = {
        "sources": {"meteo": "cds", "fpar": "earthdata", "landcover": "earthdata", "sunshine": "stations"},
        "methods": METHODS,
        "landcover": nconfig.defaults("landcover"),
        "par_fraction": nconfig.defaults("carbon")["par_fraction"],
        "strictness": "default",
        "source_settings": {"earthdata": src["earthdata"], "stations": src["stations"]},
        "land_max_missing": 0.2,
        "coast_fill_km": a.coast_fill_km,
    }
    rparams = wd / "regrid.yaml"
    rparams.write_text(yaml.safe_dump(params))
    out = wd / "forcing" / f"{YEAR}.nc"
    cmd = [
        py,
        ROOT / "scripts" / "regrid.py",
        "--params",
        rparams,
        "--wildcard",
        f"year={YEAR}",
        "--input",
        f"grid={wd / 'grid.nc'}",
        "--output",
        f"forcing={out}",
        "--log",
        wd / "regrid.log",
    ]
    for k, v in inputs.items():
        cmd += ["--input", f"{k}={v}"]
    rss, wall = run(cmd, wd / "regrid.time")
    import xarray as xr

    with xr.open_dataset(wd / "grid.nc") as g:
        shape = (g.sizes["y"], g.sizes["x"])
    result = {
        "grid": f"{shape[0]} x {shape[1]} ({shape[0] * shape[1] / 1e6:.2f} M pixels, {a.resolution} deg)",
        "modis_tile_pixels": a.tile,
        "peak_rss_mb": round(rss / 1024),
        "wall": wall,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
