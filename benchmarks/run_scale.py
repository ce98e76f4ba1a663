"""Scale benchmark: the whole workflow at 1 km and 500 m (config/bench_{1km,500m}.yaml) from the demo source.

Two phases, so a long run can be measured once and reported later:

    # one end-to-end run per core count, each from scratch (demo data included) in its own folder
    .venv/bin/python benchmarks/run_scale.py run --cores 2 --workdir /tmp/nepflow-scale
    .venv/bin/python benchmarks/run_scale.py run --cores 1 --workdir /tmp/nepflow-scale
    # 500 m, 21 years, every rule (about 6 GB of forcing files)
    .venv/bin/python benchmarks/run_scale.py run --cores 2 --config config/bench_500m.yaml --workdir /tmp/nepflow-500m
    # optional: the statistics alone on a synthetic 21-year cube at a config's resolution
    .venv/bin/python benchmarks/run_scale.py aggregates --config config/bench_500m.yaml --workdir /tmp/nepflow-500m
    # per-rule wall time (median of Snakemake's benchmark tsv files) and peak RSS (max of max_rss),
    # whole-run wall time per core count, no-op dry-run time, the statistics' phases (from the jobs'
    # logs) against the stats engine on the same cube, machine and load: benchmarks/results/scale.{md,json}
    .venv/bin/python benchmarks/run_scale.py report --workdir /tmp/nepflow-scale --workdir /tmp/nepflow-500m

Targets: 1 km, 21 years, 2 cores: whole run <= 15 min, no job's peak RSS > 2 GB;
500 m: no job's peak RSS > 4 GB; statistics rules within 30 % of the engine's own time; no-op
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
TARGETS = {
    "whole_run_2cores_s": 15 * 60,
    "peak_rss_1km_mb": 2000,
    "peak_rss_500m_aggregates_mb": 4000,
    "stats_overhead": 0.30,
    "noop_dry_run_s": 5.0,
}


def _env():
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("MPLBACKEND", "Agg")
    return e


def snakemake_cmd(workdir: Path, config: Path, *args) -> list[str]:
    return [
        str(BIN / "snakemake"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
        "--configfile",
        str(config),
    ]


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
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(args) -> None:
    """One end-to-end run from scratch with ``--cores N``; records wall time and load."""
    wd = Path(args.workdir) / f"cores{args.cores}"
    if wd.exists() and not args.keep:
        shutil.rmtree(wd)
    wd.mkdir(parents=True, exist_ok=True)
    cmd = snakemake_cmd(wd, Path(args.config).resolve(), "--cores", str(args.cores), *args.extra)
    info = {
        "cores": args.cores,
        "config": str(Path(args.config).resolve()),
        "command": " ".join(cmd),
        "commit": _git_commit(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_before": os.getloadavg(),
    }
    print(" ".join(cmd), flush=True)
    t0 = time.perf_counter()
    with open(wd / "snakemake.out", "w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=wd)
    info.update(
        wall_s=time.perf_counter() - t0,
        returncode=proc.returncode,
        loadavg_after=os.getloadavg(),
        finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
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
        proc = subprocess.run(
            snakemake_cmd(wd, config, "-n", "--quiet"), capture_output=True, text=True, env=_env(), cwd=wd
        )
        times.append(time.perf_counter() - t0)
        out = proc.stdout + proc.stderr
    nothing = "Nothing to be done" in out
    return {
        "median_s": statistics.median(times),
        "runs_s": times,
        "nothing_to_be_done": nothing,
        "loadavg_before": load,
    }


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
        out[rule] = {
            "jobs": len(recs),
            "median_s": statistics.median(s),
            "max_s": max(s),
            "sum_s": sum(s),
            "max_rss_mb": max(rss) if rss else None,
            "sum_cpu_s": sum(cpu) if cpu else None,
        }
    return out


def engine_times(series_path: Path, threads: int = 2, repeat: int = 2) -> dict:
    """Seconds the stats engine alone takes on the run's own cube, loaded in memory (no I/O), with
    the q maps: each statistic as ``bench_stats.py`` times it (best of ``repeat``)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import dask
    import numba
    import xarray as xr

    from nepflow import stats

    cube = xr.open_dataset(series_path).load()
    nep = cube["nep"]
    inside = nep.notnull().any("year")
    out = {
        "pixels": int(nep.sizes["y"] * nep.sizes["x"]),
        "region_pixels": int(inside.sum()),
        "loadavg_before": os.getloadavg(),
    }
    factors = {f: cube[f] for f in stats.FACTORS}
    calls = {
        "trend": lambda: stats.add_qvalues(stats.trend(nep)),
        "hurst": lambda: stats.add_qvalues(stats.hurst(nep)),
        "stability": lambda: stats.stability(nep),
        "correlation": lambda: stats.add_qvalues(stats.correlation(nep, factors)),
    }
    numba.set_num_threads(threads)
    with dask.config.set(scheduler="threads", num_workers=threads):
        stats.stability(nep.isel(y=slice(0, 8), x=slice(0, 8))).load()  # compile the kernels first
        for name, call in calls.items():
            best = float("inf")
            for _ in range(repeat):
                t0 = time.perf_counter()
                call()
                best = min(best, time.perf_counter() - t0)
            out[name] = best
    out["loadavg_after"] = os.getloadavg()
    return out


def phases(run_dir: Path) -> dict:
    """Statistic rule -> the phases its job logged (``logs.phase``; seconds): open, statistic (its
    ``read_wait`` and ``kernels`` parts), write."""
    import re

    out = {}
    for log in (run_dir / "results").glob("*/logs/*.log"):
        text = log.read_text(errors="replace")
        got = {k: float(v) for k, v in re.findall(r"phase ([\w-]+): ([\d.]+) s", text)}
        m = re.search(r"waiting for reads ([\d.]+) s, kernels ([\d.]+) s", text)
        if m:
            got.update(read_wait=float(m.group(1)), kernels=float(m.group(2)))
        if got:
            out[log.stem] = got
    return out


def aggregates(args) -> None:
    """Peak RSS and time of the statistics and series-free aggregates at the config's resolution on a
    synthetic 21-year cube (the per-year chain is not needed to measure the aggregates' memory)."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    import rioxarray  # noqa: F401
    import xarray as xr
    import yaml

    from nepflow import blocks, netcdf

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
            data = {
                "nep": 200 + 3 * t + 50 * rng.standard_normal(shape, dtype="float32"),
                "pr": 600 + 80 * rng.standard_normal(shape, dtype="float32"),
                "tas": 10 + rng.standard_normal(shape, dtype="float32"),
                "sund": 2500 + 100 * rng.standard_normal(shape, dtype="float32"),
            }
            ds = xr.Dataset(
                {k: (("year", "y", "x"), v.astype("float32")) for k, v in data.items()},
                coords={"year": years, "y": y[sl], "x": x},
            )
            return ds.rio.write_crs("EPSG:4326")

        netcdf.write_netcdf(blocks.blocked(block, xr.DataArray(y, dims="y"), rows), cube_path, chunk_rows=rows)
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
        src = code.format(
            scripts=str(ROOT / "scripts"),
            entry=str(ROOT / "scripts" / "statistic.py"),
            cube=str(cube_path),
            out=str(wd / f"{name}.nc"),
            tifs=tifs,
            name=name,
            mem=mem_mb,
            threads=args.threads,
        )
        load = os.getloadavg()
        # through a forking shell: Linux keeps the peak RSS across exec
        proc = subprocess.run(
            ["sh", "-c", '"$0" -c "$1"; exit $?', sys.executable, src], capture_output=True, text=True, env=_env()
        )
        if proc.returncode:
            print(proc.stderr[-3000:])
            continue
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        rec["loadavg_before"] = load
        results["jobs"][name] = rec
        print(name, rec, flush=True)
    (wd / "aggregates.json").write_text(json.dumps(results, indent=1))


def _run_name(run_dir: Path) -> str:
    return next((p.parent.name for p in (run_dir / "results").glob("*/logs")), run_dir.name)


def report(args) -> None:
    res = {
        "machine": machine(),
        "loadavg_at_report": os.getloadavg(),
        "targets": TARGETS,
        "runs": {},
        "engine": {},
        "noop_dry_run": {},
    }
    old = json.loads(OUT.with_suffix(".json").read_text()) if OUT.with_suffix(".json").exists() else {}
    first = {}  # run name -> (run dir, config) of its first complete run, --cores 2 preferred
    for wd in map(Path, args.workdir):
        for run_dir in sorted(wd.glob("cores*"), key=lambda d: d.name != "cores2"):
            info_path = run_dir / "scale-run.json"
            info = json.loads(info_path.read_text()) if info_path.exists() else {"partial": True}
            name = _run_name(run_dir)
            info.update(run=name, rules=per_rule(run_dir), phases=phases(run_dir), complete=info.get("returncode") == 0)
            res["runs"][f"{name} --{run_dir.name.replace('cores', 'cores ')}"] = info
            if info["complete"] and name not in first:
                first[name] = (run_dir, Path(info["config"]).resolve())
    for name, (run_dir, config) in first.items():
        if args.reuse and name in old.get("engine", {}):  # keep the earlier (quieter) measurements
            res["engine"][name], res["noop_dry_run"][name] = old["engine"][name], old["noop_dry_run"].get(name)
            continue
        res["noop_dry_run"][name] = noop_dry_run(run_dir, config)
        series = next((run_dir / "results").glob("*/series/annual.nc"), None)
        if series and not args.no_engine:
            res["engine"][name] = engine_times(series)
    for wd in map(Path, args.workdir):
        for agg in sorted(wd.glob("aggregates_*/aggregates.json")):
            rec = json.loads(agg.read_text())
            res.setdefault("aggregates", {})[agg.parent.name.removeprefix("aggregates_")] = rec
    notes = Path(args.workdir[0]) / "notes.md"  # what happened during the runs, written by whoever ran them
    if notes.exists():
        res["notes"] = notes.read_text()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    OUT.with_suffix(".md").write_text(markdown(res))
    print(OUT.with_suffix(".md").read_text())


def _f(v, fmt="{:.1f}"):
    return "–" if v is None else fmt.format(v)


STATISTICS = ("trend", "hurst", "stability", "correlation")


def _load(v) -> str:
    return ", ".join(f"{x:.1f}" for x in v) if v else "–"


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Scale benchmark: North China at 1 km and 500 m from the demo source",
        "",
        "Generated by `benchmarks/run_scale.py` (see its docstring for the commands); raw numbers in `scale.json`.",
        "",
        f"Machine: {m.get('cpu')} × {m.get('cpus')} CPUs, {m.get('ram_gb')} GB RAM, {m.get('platform')}, "
        f"Python {m.get('python')}, Snakemake {m.get('snakemake')}. The machine is shared: the load "
        "average (1, 5, 15 min, `os.getloadavg()`) is given with every measurement; on 2 cores a load "
        "above 2 means other processes took part of the CPU, so wall times are upper bounds.",
        "",
    ]
    if res.get("notes"):
        lines += ["## Notes", "", res["notes"].strip(), ""]
    lines += [
        "## Whole runs",
        "",
        "| run | complete | wall (min) | sum of jobs' CPU (min) | max job peak RSS (MB) "
        "| load before | load after | commit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, r in res["runs"].items():
        wall = r.get("wall_s")
        cpu = sum(v["sum_cpu_s"] or 0 for v in r["rules"].values()) / 60
        rss = max((v["max_rss_mb"] or 0 for v in r["rules"].values()), default=None)
        lines.append(
            f"| `{key}` | {'yes' if r['complete'] else 'NO (partial)'} | {_f(wall / 60 if wall else None)} | "
            f"{cpu:.1f} | {_f(rss, '{:.0f}')} | {_load(r.get('loadavg_before'))} | "
            f"{_load(r.get('loadavg_after'))} | {r.get('commit', '')[:9]} |"
        )
    for name, d in res.get("noop_dry_run", {}).items():
        if d:
            lines += [
                "",
                f"No-op `snakemake -n` on the completed `{name}` run (nothing to do: "
                f"{d['nothing_to_be_done']}): median {d['median_s']:.2f} s of {len(d['runs_s'])} (load before "
                f"{_load(d['loadavg_before'])}).",
            ]
    for key, r in res["runs"].items():
        lines += [
            "",
            f"### Per rule, `{key}`",
            "",
            "| rule | jobs | median wall (s) | max wall (s) | sum wall (s) | sum CPU (s) | max peak RSS (MB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for rule, v in sorted(r["rules"].items(), key=lambda kv: -kv[1]["sum_s"]):
            lines.append(
                f"| {rule} | {v['jobs']} | {_f(v['median_s'])} | {_f(v['max_s'])} | {_f(v['sum_s'])} | "
                f"{_f(v['sum_cpu_s'])} | {_f(v['max_rss_mb'], '{:.0f}')} |"
            )
    for key, r in res["runs"].items():
        e = res.get("engine", {}).get(r.get("run"))
        if not e or not r["complete"]:
            continue
        lines += [
            "",
            f"### Statistics against the engine alone, `{key}`",
            "",
            f"Engine: the stats engine on the run's own cube ({e['pixels']:,} pixels, {e['region_pixels']:,} "
            f"in the region) in memory, 2 threads, q maps included, as `bench_stats.py` times it (load "
            f"{_load(e.get('loadavg_before'))}). Job: the Snakemake benchmark's wall time; its phases from "
            "the job's log (`logs.phase`): *open* the cube, *statistic* = reading the cube slab by slab "
            "(*waiting* for a slab the kernels could not overlap) + the kernels + q maps, *write* the NetCDF "
            "and the COGs (concurrently); *start-up* = job − phases (interpreter, Snakemake's preamble, "
            "imports).",
            "",
            "| statistic | engine (s) | job (s) | start-up | open | statistic (waiting) | write | "
            "reading overhead | + writing | whole job |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        tot = {"eng": 0.0, "job": 0.0, "inside": 0.0, "write": 0.0}
        for name in STATISTICS:
            job, ph, eng = r["rules"].get(name, {}).get("median_s"), r["phases"].get(name, {}), e.get(name)
            if not (job and eng and ph):
                continue
            inside, write = ph.get("open", 0) + ph.get("statistic", 0), ph.get("write", 0)
            for k, v in (("eng", eng), ("job", job), ("inside", inside), ("write", write)):
                tot[k] += v
            lines.append(
                f"| {name} | {eng:.2f} | {job:.1f} | {job - inside - write:.1f} | "
                f"{ph.get('open', 0):.2f} | {ph.get('statistic', 0):.2f} ({ph.get('read_wait', 0):.2f}) | "
                f"{write:.2f} | {(inside / eng - 1) * 100:+.0f} % | "
                f"{((inside + write) / eng - 1) * 100:+.0f} % | {(job / eng - 1) * 100:+.0f} % |"
            )
        if tot["eng"]:
            lines.append(
                f"| **all four** | {tot['eng']:.2f} | {tot['job']:.1f} | | | {tot['inside']:.2f} | "
                f"{tot['write']:.2f} | {(tot['inside'] / tot['eng'] - 1) * 100:+.0f} % | "
                f"{((tot['inside'] + tot['write']) / tot['eng'] - 1) * 100:+.0f} % | "
                f"{(tot['job'] / tot['eng'] - 1) * 100:+.0f} % |"
            )
    for name, a in res.get("aggregates", {}).items():
        lines += [
            "",
            f"## Aggregates alone at {name} (synthetic {a['years']}-year cube, {a['grid'][0]} × "
            f"{a['grid'][1]} = {a['pixels']:,} pixels, mem_mb {a['mem_mb']})",
            "",
            "The statistic rules' entry scripts in a subprocess each (peak RSS from getrusage), 2 threads.",
            "",
            "| job | wall (s) | peak RSS (MB) | load before |",
            "|---|---|---|---|",
        ]
        for job, v in a["jobs"].items():
            lines.append(f"| {job} | {v['s']:.1f} | {v['max_rss_mb']:.0f} | {_load(v['loadavg_before'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="phase", required=True)
    for name in ("run", "aggregates", "report"):
        q = sub.add_parser(name)
        q.add_argument("--config", default=str(ROOT / "config" / "bench_1km.yaml"))
        if name == "report":
            q.add_argument(
                "--workdir",
                action="append",
                default=None,
                help="a folder of runs (cores*/); repeat for several configs (default /tmp/nepflow-scale)",
            )
        else:
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
            q.add_argument(
                "--reuse",
                action="store_true",
                help="reuse the no-op dry run and engine times of the existing scale.json",
            )
    a = p.parse_args(argv)
    if a.phase == "report" and not a.workdir:
        a.workdir = ["/tmp/nepflow-scale"]
    {"run": run, "aggregates": aggregates, "report": report}[a.phase](a)


if __name__ == "__main__":
    main()
