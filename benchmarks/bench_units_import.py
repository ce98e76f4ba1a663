"""cf_units against pint through cf_xarray, for the input units check (nepflow.checks): the CPU seconds a job
pays to import the library and make its first conversion, and which spellings each reads.

    .venv/bin/python benchmarks/bench_units_import.py --pint-python /tmp/pintvenv/bin/python

pint is not in the lock: give a Python that has pint and cf_xarray (e.g. ``python3.11 -m venv /tmp/pintvenv &&
/tmp/pintvenv/bin/pip install pint cf_xarray numpy==<lock> xarray==<lock>``). Each case runs in a fresh process,
--repeat times; the table gives the median of the child's CPU seconds (user + sys from ``os.wait4``: start-up,
imports and the conversion) and, measured inside the child with ``time.process_time``, the import alone and
the first conversion alone. Baselines: the same interpreter importing numpy and xarray only (every job that
checks units has them loaded). Results: results/units_import.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: import -> first conversion ('g m-2 yr-1' -> 'kg m-2 s-1') -> 'J m-2' to 'MJ m-2' and to 'W m-2' x seconds.
CASES = {
    "baseline": """
import numpy, xarray
tb = time.process_time()
t1 = time.process_time()
out = {}
""",
    "cf_units": """
import numpy, xarray
tb = time.process_time()
import cf_units
t1 = time.process_time()
v = float(cf_units.Unit("g m-2 yr-1").convert(1.0, cf_units.Unit("kg m-2 s-1")))
t2 = time.process_time()
j = cf_units.Unit("J m-2")
out = {"first": t2 - t1, "g m-2 yr-1 in kg m-2 s-1": v, "J m-2 in MJ m-2": float(j.convert(1.0, cf_units.Unit("MJ m-2"))),
       "J m-2 convertible to W m-2 s": bool(j.is_convertible(cf_units.Unit("W m-2 s")))}
""",
    "pint+cf_xarray": """
import numpy, xarray
tb = time.process_time()
import cf_xarray.units
ureg = cf_xarray.units.units
t1 = time.process_time()
v = float(ureg.Quantity(1.0, "g m-2 yr-1").to("kg m-2 s-1").magnitude)
t2 = time.process_time()
j = ureg.Quantity(1.0, "J m-2")
out = {"first": t2 - t1, "g m-2 yr-1 in kg m-2 s-1": v, "J m-2 in MJ m-2": float(j.to("MJ m-2").magnitude),
       "J m-2 convertible to W m-2 s": bool(j.check(ureg.Unit("W m-2 s").dimensionality))}
""",
}
_HEAD = "import json, time, warnings\nwarnings.simplefilter('ignore')\nt0 = time.process_time()\n"
_TAIL = "\nout['import'] = t1 - tb\nprint(json.dumps(out))\n"

#: The spellings tests/test_checks.py gives the input check (and 'g C m-2 yr-1', which must not read as carbon):
#: spelling -> the contract unit it must convert to (None: must be refused).
SPELLINGS = {
    "W.m-2": "MJ m-2 s-1",
    "W/m^2": "MJ m-2 s-1",
    "J m-2": "MJ m-2",
    "kJ.m-2": "MJ m-2",
    "MJ/m2/month": "MJ m-2 month-1",
    "mm h-1": "mm s-1",
    "mm/d": "mm s-1",
    "mm/month": "mm month-1",
    "kg m**-2 s**-1": "kg m-2 s-1",
    "degK": "degC",
    "degree_Celsius": "degC",
    "°C": "degC",
    "%": "1",
    "percent": "1",
    "min month-1": "h month-1",
    "g C/m2/yr": None,
    "kgC m-2 yr-1": None,
    "g C m-2 yr-1": None,
}
_SPELL = {
    "cf_units": """
import cf_units
def check(s, target):
    try:
        u = cf_units.Unit(s)
    except ValueError as e:
        return {"reads": False, "as": str(e).splitlines()[0][:60]}
    return {"reads": True, "as": str(u.definition), "converts": bool(target) and bool(u.is_convertible(cf_units.Unit(target))),
            "to g m-2 yr-1": bool(u.is_convertible(cf_units.Unit("g m-2 yr-1")))}
""",
    "pint+cf_xarray": """
import cf_xarray.units
ureg = cf_xarray.units.units
def check(s, target):
    try:
        u = ureg.Unit(s)
    except Exception as e:
        return {"reads": False, "as": type(e).__name__}
    return {"reads": True, "as": str(u), "converts": bool(target) and bool(u.is_compatible_with(ureg.Unit(target))),
            "to g m-2 yr-1": bool(u.is_compatible_with(ureg.Unit("g m-2 yr-1")))}
""",
}


def run(python: str, code: str) -> tuple[float, dict]:
    """(CPU seconds of the child, what it printed)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: exec the interpreter, stdout into the pipe
        os.close(r)
        os.dup2(w, 1)
        os.execv(python, [python, "-c", code])
    os.close(w)
    with os.fdopen(r) as f:
        text = f.read()
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{python}: case failed:\n{code}")
    return usage.ru_utime + usage.ru_stime, json.loads(text.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pint-python", required=True, help="a Python with pint and cf_xarray")
    ap.add_argument("--python", default=sys.executable, help="a Python with cf_units (the lock's)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "units_import.md"))
    a = ap.parse_args()
    load = os.getloadavg()
    pythons = {"cf_units": a.python, "pint+cf_xarray": a.pint_python}
    rows, values = [], {}
    for lib, python in pythons.items():
        base = [run(python, _HEAD + CASES["baseline"] + _TAIL) for _ in range(a.repeat)]
        case = [run(python, _HEAD + CASES[lib] + _TAIL) for _ in range(a.repeat)]
        med = lambda xs: statistics.median(xs)  # noqa: E731
        b_total, c_total = med([t for t, _ in base]), med([t for t, _ in case])
        imp = med([o["import"] for _, o in case])  # after numpy and xarray, in the same process
        rows.append((lib, c_total, b_total, c_total - b_total, imp, med([o["first"] for _, o in case])))
        values[lib] = {k: v for k, v in case[0][1].items() if k not in ("first", "import")}
    versions = {
        lib: run(
            python, f"import json, importlib.metadata as m; print(json.dumps({{p: m.version(p) for p in {pk!r}}}))"
        )[1]
        for (lib, python), pk in zip(
            pythons.items(), (("cf-units", "numpy", "xarray"), ("pint", "cf_xarray", "numpy", "xarray"))
        )
    }
    spell = {lib: {} for lib in pythons}
    for lib, python in pythons.items():
        code = _SPELL[lib] + f"\nimport json\nprint(json.dumps({{s: check(s, t) for s, t in {SPELLINGS!r}.items()}}))\n"
        spell[lib] = run(python, code)[1]
    end = os.getloadavg()

    lines = [
        "# Units library: cf_units against pint through cf_xarray (import and first conversion, spellings)",
        "",
        "    .venv/bin/python benchmarks/bench_units_import.py --pint-python /tmp/pintvenv/bin/python",
        "",
        f"Median of {a.repeat} fresh processes each; CPU seconds (user + sys). Load average "
        f"{load[0]:.1f} at start, {end[0]:.1f} at end, {os.cpu_count()} CPUs. Versions: "
        + "; ".join(f"{lib}: " + ", ".join(f"{k} {v}" for k, v in vs.items()) for lib, vs in versions.items())
        + ".",
        "",
        "| library | process CPU s (import numpy, xarray, the library; first conversion) | baseline process "
        "(numpy, xarray) | difference | the library's import after numpy and xarray (in-process) | first conversion |",
        "|---|---|---|---|---|---|",
    ]
    for lib, total, base, added, imp, first in rows:
        lines.append(f"| {lib} | {total:.3f} | {base:.3f} | {added:.3f} | {imp:.3f} | {first * 1000:.2f} ms |")
    lines += ["", "Values (one process each):", "", "| | " + " | ".join(values) + " |", "|---|---|---|"]
    for key in values["cf_units"]:
        lines.append(f"| {key} | " + " | ".join(str(values[lib][key]) for lib in values) + " |")
    lines += [
        "",
        "Spellings (tests/test_checks.py's, as a reader meets them): read as, and convertible to the contract's unit "
        "(the carbon spellings: must not convert to g m-2 yr-1 unless the C is dropped first, as nepflow.checks "
        "does; nepflow's own step, not the library's).",
        "",
        "| spelling | contract | " + " | ".join(f"{lib}: read as | converts" for lib in pythons) + " |",
        "|---|---|" + "---|---|" * len(pythons),
    ]
    for s, target in SPELLINGS.items():
        cells = []
        for lib in pythons:
            r = spell[lib][s]
            conv = r.get("converts") if target else ("to g m-2 yr-1: " + str(r.get("to g m-2 yr-1")))
            cells += [f"`{r['as']}`" if r["reads"] else f"refused ({r['as']})", str(conv) if r["reads"] else "-"]
        lines.append(f"| `{s}` | {target or '(carbon)'} | " + " | ".join(cells) + " |")
    added = {r[0]: r[4] for r in rows}
    yr = values["cf_units"]["g m-2 yr-1 in kg m-2 s-1"] / values["pint+cf_xarray"]["g m-2 yr-1 in kg m-2 s-1"]
    lines += [
        "",
        f"Reading: importing pint through cf_xarray costs {added['pint+cf_xarray']:.2f} CPU s at a job's start "
        f"against {added['cf_units']:.3f} s for cf_units (every per-year job that checks units pays it), reads "
        "the same spellings and, like cf_units, does not take 'g C m-2 yr-1' as grams of carbon (it reads the C "
        "as a Celsius degree, cf_units as a coulomb): nepflow drops the element's symbol itself either way. "
        f"They differ on the year: UDUNITS' yr (CF's) is 365.242198781 days, pint's 365.25 (ratio {yr:.7f}).",
    ]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
