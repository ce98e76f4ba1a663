"""Scale benchmark: the whole workflow at 1 km (config/bench_1km.yaml) from the demo source.

Two phases, so a long run can be measured once and reported later:

    # one end-to-end run per core count, each from scratch (demo data included) in its own folder
    .venv/bin/python benchmarks/run_scale.py run --cores 2 --workdir /tmp/nepflow-scale
    .venv/bin/python benchmarks/run_scale.py run --cores 1 --workdir /tmp/nepflow-scale
    # optional: aggregate memory at 500 m on a synthetic 21-year cube (no per-year chain needed)
    .venv/bin/python benchmarks/run_scale.py aggregates --config config/bench_500m.yaml --workdir /tmp/nepflow-scale
    # per-rule wall time (median of Snakemake's benchmark tsv files) and peak RSS (max of max_rss),
    # whole-run wall time per core count, no-op dry-run time, the statistics' share against the
    # stats engine on the same cube, machine and load: benchmarks/results/scale.{md,json}
    .venv/bin/python benchmarks/run_scale.py report --workdir /tmp/nepflow-scale

Targets (issue 9): 1 km, 21 years, 2 cores: whole run <= 15 min, no job's peak RSS > 2 GB;
500 m aggregates <= 4 GB; statistics rules within 30 % of the engine's own time; no-op
``snakemake -n`` <= 5 s. The machine's load (os.getloadavg) is recorded before and after every
measurement: on a shared machine, wall times above CPU times say how much others took.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OUT = ROOT / "benchmarks" / "results" / "scale"
TARGETS = {"whole_run_2cores_s": 15 * 60, "peak_rss_1km_mb": 2000, "peak_rss_500m_aggregates_mb": 4000,
           "stats_overhead": 0.30, "noop_dry_run_s": 5.0}


def _env():
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("MPLBACKEND", "Agg")
    return e


def snakemake_cmd(workdir: Path, config: Path, *args) -> list[str]:
    return [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
            *args, "--configfile", str(config)]


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        cpu = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        info["cpu"] = cpu[0] if cpu else platform.processor()
        mem = [line for line in open("/proc/meminfo") if line.startswith("MemTotal")][0].split()[1]
        info["ram_gb"] = round(int(mem) / 1024**2, 1)
    except OSError:
        pass
    try:
        import snakemake

        info["snakemake"] = snakemake.__version__
    except Exception:  # noqa: BLE001
        pass
    return info


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(args) -> None:
    """One end-to-end run from scratch with ``--cores N``; records wall time and load."""
    wd = Path(args.workdir) / f"cores{args.cores}"
    if wd.exists() and not args.keep:
        shutil.rmtree(wd)
    wd.mkdir(parents=True, exist_ok=True)
    cmd = snakemake_cmd(wd, Path(args.config), "--cores", str(args.cores), *args.extra)
    info = {"cores": args.cores, "config": str(args.config), "command": " ".join(cmd), "commit": _git_commit(),
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadavg_before": os.getloadavg()}
    print(" ".join(cmd), flush=True)
    t0 = time.perf_counter()
    with open(wd / "snakemake.out", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=wd)
    info.update(wall_s=time.perf_counter() - t0, returncode=proc.returncode, loadavg_after=os.getloadavg(),
                finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    children = os.times()
    info["cpu_s_children"] = children.children_user + children.children_system
    (wd / "scale-run.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info, indent=1))
    if proc.returncode:
        sys.exit(f"snakemake failed ({proc.returncode}); see {wd / 'snakemake.out'}")


def noop_dry_run(wd: Path, config: Path, repeats: int = 3) -> dict:
    """Seconds of ``snakemake -n`` on a completed run (nothing to do), median of ``repeats``."""
    times, out = [], ""
    load = os.getloadavg()
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(snakemake_cmd(wd, config, "-n", "--quiet"), capture_output=True, text=True,
                              env=_env(), cwd=wd)
        times.append(time.perf_counter() - t0)
        out = proc.stdout + proc.stderr
    nothing = "Nothing to be done" in out
    return {"median_s": statistics.median(times), "runs_s": times, "nothing_to_be_done": nothing,
            "loadavg_before": load}


def per_rule(wd: Path) -> dict:
    """Rule -> jobs, median/max wall s, max peak RSS (MB), summed CPU s, from the benchmark tsv files."""
    import csv

    rows = {}
    bench = next((wd / "results").glob("*/benchmarks"), None)
    if bench is None:
        return {}
    for tsv in sorted(bench.rglob("*.tsv")):
        rel = tsv.relative_to(bench)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        with open(tsv) as f:
            rec = list(csv.DictReader(f, delimiter="\t"))[-1]
        rows.setdefault(rule, []).append(rec)
    out = {}
    for rule, recs in rows.items():
        s = [float(r["s"]) for r in recs]
        rss = [float(r["max_rss"]) for r in recs if r["max_rss"] not in ("NA", "")]
        cpu = [float(r["cpu_time"]) for r in recs if r.get("cpu_time") not in (None, "NA", "")]
        out[rule] = {"jobs": len(recs), "median_s": statistics.median(s), "max_s": max(s), "sum_s": sum(s),
                     "max_rss_mb": max(rss) if rss else None, "sum_cpu_s": sum(cpu) if cpu else None}
    return out


def engine_times(series_path: Path, threads: int = 2) -> dict:
    """Seconds the stats engine alone takes on the run's own cube, loaded in memory (no I/O)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import dask
    import xarray as xr

    from nepflow import stats

    cube = xr.open_dataset(series_path).load()
    nep = cube["nep"]
    inside = nep.notnull().any("year")
    out = {"pixels": int(nep.sizes["y"] * nep.sizes["x"]), "region_pixels": int(inside.sum())}
    chunk = 512
    c = {"y": chunk, "x": chunk}
    calls = {
        "trend": lambda: stats.trend(nep.chunk(c)),
        "hurst": lambda: stats.hurst(nep.chunk(c)),
        "stability": lambda: stats.stability(nep.chunk(c)),
        "correlation": lambda: stats.correlation(nep.chunk(c), {f: cube[f].chunk(c) for f in ("pr", "tas", "sund")}),
    }
    with dask.config.set(scheduler="threads", num_workers=threads):
        stats.stability(nep.isel(y=slice(0, 8), x=slice(0, 8))).load()  # compile the kernels first
        for name, call in calls.items():
            t0 = time.perf_counter()
            call().load()
            out[name] = time.perf_counter() - t0
    out["loadavg_after"] = os.getloadavg()
    return out


def aggregates(args) -> None:
    """Peak RSS and time of the statistics and series-free aggregates at the config's resolution on a
    synthetic 21-year cube (the per-year chain is not needed to measure the aggregates' memory)."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    import rioxarray  # noqa: F401
    import xarray as xr
    import yaml

    from nepflow import io

    cfg = yaml.safe_load(Path(args.config).read_text())
    res = cfg["grid"]["resolution"]
    w, s, e, n = 110.0, 34.0, 123.0, 43.0
    nx, ny = int(round((e - w) / res)), int(round((n - s) / res))
    wd = Path(args.workdir) / f"aggregates_{cfg['run_name']}"
    wd.mkdir(parents=True, exist_ok=True)
    cube_path = wd / "annual.nc"
    years = list(range(cfg["years"]["start"], cfg["years"]["end"] + 1))
    if not cube_path.exists():
        x = w + (np.arange(nx) + 0.5) * res
        y = n - (np.arange(ny) + 0.5) * res
        rows = 256

        def block(sl):
            rng = np.random.default_rng(sl.start)
            shape = (len(years), sl.stop - sl.start, nx)
            t = np.arange(len(years), dtype="float32")[:, None, None]
            data = {"nep": 200 + 3 * t + 50 * rng.standard_normal(shape, dtype="float32"),
                    "pr": 600 + 80 * rng.standard_normal(shape, dtype="float32"),
                    "tas": 10 + rng.standard_normal(shape, dtype="float32"),
                    "sund": 2500 + 100 * rng.standard_normal(shape, dtype="float32")}
            ds = xr.Dataset({k: (("year", "y", "x"), v.astype("float32")) for k, v in data.items()},
                            coords={"year": years, "y": y[sl], "x": x})
            return ds.rio.write_crs("EPSG:4326")

        io.write_netcdf(io.blocked(block, xr.DataArray(y, dims="y"), rows), cube_path, chunk_rows=rows)
    mem_mb = args.mem_mb
    results = {"grid": [ny, nx], "pixels": nx * ny, "years": len(years), "mem_mb": mem_mb, "jobs": {}}
    if (wd / "aggregates.json").exists():  # earlier measurements of other statistics are kept
        results["jobs"] = json.loads((wd / "aggregates.json").read_text())["jobs"]
    code = """
import json, resource, sys, time
from types import SimpleNamespace
sys.path.insert(0, {scripts!r})
import importlib.util
spec = importlib.util.spec_from_file_location("entry", {entry!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
a = {{"cv_ddof": 1, "min_valid_years": None, "mk_variant": "original", "hurst_estimator": "rs",
      "hurst_surrogates": 1000, "seed": 20240601}}
t0 = time.perf_counter()
mod.main(SimpleNamespace(input={{"series": {cube!r}}}, output={{"analysis": {out!r}, "tifs": {tifs!r}}},
                         params={{"statistic": {name!r}, "analysis": a}},
                         resources=SimpleNamespace(mem_mb={mem}, chunk=0), threads={threads}, log=[]))
print(json.dumps({{"s": time.perf_counter() - t0,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_chunking import STATS  # the variables of each statistic (the rules' outputs)

    for name in args.statistics:
        tifs = [str(wd / "tif" / f"{v}.tif") for v in STATS[name]]
        src = code.format(scripts=str(ROOT / "scripts"), entry=str(ROOT / "scripts" / "statistic.py"),
                          cube=str(cube_path), out=str(wd / f"{name}.nc"), tifs=tifs, name=name, mem=mem_mb,
                          threads=args.threads)
        load = os.getloadavg()
        # through a forking shell: Linux keeps the peak RSS across exec
        proc = subprocess.run(["sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, src], capture_output=True,
                              text=True, env=_env())
        if proc.returncode:
            print(proc.stderr[-3000:])
            continue
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        rec["loadavg_before"] = load
        results["jobs"][name] = rec
        print(name, rec, flush=True)
    (wd / "aggregates.json").write_text(json.dumps(results, indent=1))


def report(args) -> None:
    wd = Path(args.workdir)
    res = {"machine": machine(), "loadavg_at_report": os.getloadavg(), "targets": TARGETS, "runs": {}}
    config = Path(args.config)
    for run_dir in sorted(wd.glob("cores*")):
        info_path = run_dir / "scale-run.json"
        info = json.loads(info_path.read_text()) if info_path.exists() else {"partial": True}
        info["rules"] = per_rule(run_dir)
        info["complete"] = info.get("returncode") == 0
        res["runs"][run_dir.name] = info
    done = [d for d in sorted(wd.glob("cores*")) if res["runs"][d.name]["complete"]]
    old = json.loads(OUT.with_suffix(".json").read_text()) if OUT.with_suffix(".json").exists() else {}
    if args.reuse and "noop_dry_run" in old:  # keep the earlier (quieter) measurements
        res["noop_dry_run"], res["engine"] = old["noop_dry_run"], old.get("engine")
    elif done:
        res["noop_dry_run"] = noop_dry_run(done[0], config)
        series = next((done[0] / "results").glob("*/series/annual.nc"), None)
        if series and not args.no_engine:
            res["engine"] = engine_times(series)
    for agg in sorted(wd.glob("aggregates_*/aggregates.json")):
        rec = json.loads(agg.read_text())
        if (agg.parent / "engine.json").exists():  # the engine alone on the same cube, if measured
            rec["engine"] = json.loads((agg.parent / "engine.json").read_text())
        res.setdefault("aggregates", {})[agg.parent.name.removeprefix("aggregates_")] = rec
    notes = wd / "notes.md"  # what happened during the runs, written by whoever ran them
    if notes.exists():
        res["notes"] = notes.read_text()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    OUT.with_suffix(".md").write_text(markdown(res))
    print(OUT.with_suffix(".md").read_text())


def _f(v, fmt="{:.1f}"):
    return "–" if v is None else fmt.format(v)


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = ["# Scale benchmark (issue 9): North China at 1 km from the demo source", "",
             "Generated by `benchmarks/run_scale.py` (see its docstring for the commands); raw numbers in "
             "`scale.json`.", "",
             f"Machine: {m.get('cpu')} × {m.get('cpus')} CPUs, {m.get('ram_gb')} GB RAM, {m.get('platform')}, "
             f"Python {m.get('python')}, Snakemake {m.get('snakemake')}. The machine is shared: the load "
             "average (1, 5, 15 min, `os.getloadavg()`) is given with every measurement; on 2 cores a load "
             "above 2 means other users' processes took part of the CPU, so wall times are upper bounds.", ""]
    if res.get("notes"):
        lines += ["## Notes", "", res["notes"].strip(), ""]
    lines += ["## Whole runs", "", "| run | complete | wall (min) | load before | load after | commit |",
              "|---|---|---|---|---|---|"]
    for name, r in res["runs"].items():
        lb = ", ".join(f"{x:.1f}" for x in r.get("loadavg_before", [])) or "–"
        la = ", ".join(f"{x:.1f}" for x in r.get("loadavg_after", [])) or "–"
        wall = r.get("wall_s")
        lines.append(f"| `--{name.replace('cores', 'cores ')}` | {'yes' if r['complete'] else 'NO (partial)'} | "
                     f"{_f(wall / 60 if wall else None)} | {lb} | {la} | {r.get('commit', '')[:9]} |")
    for name, r in res["runs"].items():
        lines += ["", f"### Per rule, `--{name.replace('cores', 'cores ')}`", "",
                  "| rule | jobs | median wall (s) | max wall (s) | sum wall (s) | sum CPU (s) | max peak RSS (MB) |",
                  "|---|---|---|---|---|---|---|"]
        for rule, v in sorted(r["rules"].items(), key=lambda kv: -kv[1]["sum_s"]):
            lines.append(f"| {rule} | {v['jobs']} | {_f(v['median_s'])} | {_f(v['max_s'])} | {_f(v['sum_s'])} | "
                         f"{_f(v['sum_cpu_s'])} | {_f(v['max_rss_mb'], '{:.0f}')} |")
    if "noop_dry_run" in res:
        d = res["noop_dry_run"]
        lines += ["", "## No-op dry run", "",
                  f"`snakemake -n` on the completed 1 km run (nothing to do: {d['nothing_to_be_done']}): median "
                  f"{d['median_s']:.2f} s of {len(d['runs_s'])} (load before "
                  f"{', '.join(f'{x:.1f}' for x in d['loadavg_before'])})."]
    if "engine" in res:
        e = res["engine"]
        run = next((r for r in res["runs"].values() if r["complete"] and r.get("cores") == 2), None) \
            or next(r for r in res["runs"].values() if r["complete"])
        lines += ["", "## Statistics: rule against the engine alone", "",
                  f"The stats engine on the run's own cube ({e['pixels']:,} pixels, {e['region_pixels']:,} in the "
                  "region), loaded in memory, 2 threads, against the rule's wall time (reading the cube, "
                  "q-values, NetCDF and GeoTIFF writes included). Overhead = rule / engine − 1.", "",
                  "| statistic | engine (s) | rule (s) | overhead |", "|---|---|---|---|"]
        for name in ("trend", "hurst", "stability", "correlation"):
            rule = run["rules"].get(name, {}).get("median_s")
            eng = e.get(name)
            over = (rule / eng - 1) if rule and eng else None
            lines.append(f"| {name} | {_f(eng, '{:.2f}')} | {_f(rule)} | {_f(over * 100 if over is not None else None, '{:.0f} %')} |")
    for name, a in res.get("aggregates", {}).items():
        lines += ["", f"## Aggregates at {name} (synthetic {a['years']}-year cube, {a['grid'][0]} × {a['grid'][1]} "
                  f"= {a['pixels']:,} pixels, mem_mb {a['mem_mb']})", "",
                  "The statistic rules' entry scripts in a subprocess each (peak RSS from getrusage), 2 threads; "
                  "engine: the stats engine alone on the same cube in memory (2 threads), where measured.", "",
                  "| job | wall (s) | peak RSS (MB) | load before | engine (s) | overhead |", "|---|---|---|---|---|---|"]
        eng = a.get("engine", {})
        for job, v in a["jobs"].items():
            e = eng.get(job)
            over = f"{(v['s'] / e - 1) * 100:.0f} %" if e else "–"
            lines.append(f"| {job} | {v['s']:.1f} | {v['max_rss_mb']:.0f} | "
                         f"{', '.join(f'{x:.1f}' for x in v['loadavg_before'])} | {_f(e, '{:.1f}')} | {over} |")
        if eng:
            lines.append(f"\nEngine (trend, stability) measured at load {', '.join(f'{x:.1f}' for x in eng['loadavg_before'])}"
                         + (f"; hurst and correlation at {', '.join(f'{x:.1f}' for x in eng['loadavg_before_hurst_correlation'])}"
                            if "loadavg_before_hurst_correlation" in eng else "") + ".")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="phase", required=True)
    for name in ("run", "aggregates", "report"):
        q = sub.add_parser(name)
        q.add_argument("--config", default=str(ROOT / "config" / "bench_1km.yaml"))
        q.add_argument("--workdir", default="/tmp/nepflow-scale")
        if name == "run":
            q.add_argument("--cores", type=int, default=2)
            q.add_argument("--keep", action="store_true", help="keep earlier outputs (resume; not from scratch)")
            q.add_argument("extra", nargs="*", help="more snakemake arguments (after --)")
        if name == "aggregates":
            q.add_argument("--mem-mb", type=int, default=2700, help="the jobs' mem_mb (the rules' value at 500 m)")
            q.add_argument("--threads", type=int, default=2)
            q.add_argument("--statistics", nargs="*", default=["stability", "trend", "correlation", "hurst"])
        if name == "report":
            q.add_argument("--no-engine", action="store_true")
            q.add_argument("--reuse", action="store_true",
                           help="reuse the no-op dry run and engine times of the existing scale.json")
    a = p.parse_args(argv)
    {"run": run, "aggregates": aggregates, "report": report}[a.phase](a)


if __name__ == "__main__":
    main()
