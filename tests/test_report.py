"""The HTML report of a completed tiny run: grouped by category, every figure and table with its own caption.

One report build (``snakemake --report x.zip``) on the shared ``tiny_run``; the
zip is unpacked and the report's embedded category and result tables read back.
"""
from __future__ import annotations

import html
import json
import re
import zipfile

import pytest

from nepflow import figure_index
from workflow import snakemake


@pytest.fixture(scope="module")
def report(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.zip"
    snakemake(tiny_run, "--report", str(out))
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        page = z.read(next(n for n in names if n.endswith("report.html"))).decode()

    def table(script_id):
        m = re.search(rf'<script id="{script_id}">\s*var {script_id} = (.*?);\s*</script>', page, re.S)
        assert m, f"no {script_id} table in report.html"
        return json.loads(m.group(1))

    results = table("results")
    captions = {path.rsplit("/", 1)[-1]: re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r["caption"])))
                for path, r in results.items()}
    return {"names": names, "categories": table("categories"), "results": results, "captions": captions,
            "figures": sorted(p.name for p in (tiny_run / "results/tiny/figures").glob("*.png"))}


def test_grouped_by_category(report):
    cats = report["categories"]
    assert set(cats) == {"Carbon", "Trend", "Persistence", "Stability", "Drivers", "Tables"}
    filed = {path.rsplit("/", 1)[-1]: (cat, sub) for cat, subs in cats.items() for sub, paths in subs.items()
             for path in paths}
    # every figure of the run is in the report, under its category, and only PNGs (the PDFs sit beside them)
    assert sorted(n for n in filed if n.endswith(".png")) == report["figures"]
    assert len(report["figures"]) == 18
    for name in report["figures"]:
        assert filed[name] == figure_index.FIGURES[name[:-4]], name
    assert filed["area_stats.csv"][0] == filed["summary.md"][0] == "Tables"
    assert set(cats["Drivers"]) == {"Precipitation", "Temperature", "Sunshine duration"}
    assert set(cats["Carbon"]) == {"Maps", "Time series"}
    assert any(n.endswith("/nep_mean.png") for n in report["names"])


def test_captions_state_method_units_thresholds_and_config(report):
    cap = report["captions"]
    for name in report["figures"] + ["area_stats.csv", "summary.md"]:
        assert len(cap[name]) > 150, name
        assert "{{" not in cap[name] and "{%" not in cap[name], name
    for name in report["figures"]:
        assert "2000–2020" in cap[name], name        # when, from config years
        assert "300 dpi" in cap[name], name          # figures.dpi
    assert "g C m-2 yr-1" in cap["nep_mean.png"] and "0.5 × GPP" in cap["nep_mean.png"]  # units, carbon.cue
    assert "1.8" in cap["nep_mean.png"] and "0.0912" in cap["nep_mean.png"]               # eps_c3, rh.b
    assert "g C m-2 yr-2" in cap["ols_slope.png"] and "p < 0.05" in cap["ols_slope.png"]  # classes.trend
    assert "Mann–Kendall test (variant original)" in cap["sen_slope.png"]                 # analysis.mk_variant
    assert "CV ≤ 0.1" in cap["cv_class.png"] and "lowest > 0.4" in cap["cv_class.png"]    # cv_scheme default
    assert "ddof = 1" in cap["cv.png"]
    assert "H ≤ 0.35" in cap["hurst_class.png"] and "≤ 0.65" in cap["hurst_class.png"]   # classes.hurst
    assert "estimator rs" in cap["hurst.png"] and "1000 white-noise surrogates" in cap["hurst.png"]
    assert "H > 0.5" in cap["future_class.png"] and "share of the area" in cap["future_class.png"]
    assert "mm yr-1" in cap["corr_pr.png"] and "19 degrees of freedom" in cap["corr_pr.png"]
    assert "17 degrees of freedom" in cap["pcorr_tas.png"] and "°C" in cap["pcorr_tas.png"]
    assert "OLS" in cap["timeseries.png"] and "area-weighted" in cap["timeseries.png"]
    assert "Albers equal-area" in cap["hurst.png"] and "Albers" not in cap["timeseries.png"]
    assert "km2" in cap["area_stats.csv"] and "0.35, 0.5, 0.65" in cap["area_stats.csv"]
    assert "Tg C yr-1" in cap["summary.md"] and "p < 0.05" in cap["summary.md"]
    # one caption per figure, not one for all
    assert len({cap[n] for n in report["figures"]}) == len(report["figures"])


@pytest.mark.parametrize("configfile", ["config.yaml", "north_china.yaml"])
def test_landing_page_is_prose_and_a_small_table(configfile):
    import docutils.core
    import jinja2
    import yaml
    from snakemake.utils import validate

    from workflow import ROOT

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if configfile != "config.yaml":
        from snakemake.utils import update_config

        update_config(cfg, yaml.safe_load((ROOT / "config" / configfile).read_text()))
    validate(cfg, str(ROOT / "config" / "schema.yaml"))
    text = jinja2.Template((ROOT / "report" / "workflow.rst").read_text()).render(
        snakemake=type("S", (), {"config": cfg}))
    body = docutils.core.publish_parts(text, writer_name="html", settings_overrides={"halt_level": 2})["body"]
    assert "{" not in body and "http" not in body  # no raw dicts, no service URLs
    cells = re.findall(r"<td>(.*?)</td>", re.sub(r"\s+", " ", body))
    rows = dict(zip(cells[::2], cells[1::2]))
    assert set(rows) == {"region", "period", "grid", "sources", "models"}
    assert f"{cfg['years']['start']}–{cfg['years']['end']}" in rows["period"]
    assert f"meteorology: {cfg['sources']['meteo']}" in rows["sources"]


def render(report_file: str, change: dict, name: str = "") -> str:
    """report/<report_file> under the default config with ``change`` merged in and validated (no run), for figure
    ``name``; whitespace collapsed."""
    import jinja2
    import yaml
    from snakemake.utils import update_config, validate

    from workflow import ROOT

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(cfg, change)
    validate(cfg, str(ROOT / "config" / "schema.yaml"))
    smk = type("S", (), {"config": cfg, "wildcards": type("W", (), {"name": name}),
                         "params": type("P", (), {"cv_bounds": [0.1, 0.2, 0.3, 0.4]})})
    text = jinja2.Template((ROOT / "report" / report_file).read_text()).render(snakemake=smk)
    return re.sub(r"\s+", " ", text)


def render_caption(name: str, change: dict) -> str:
    return render("figures.rst", change, name)


@pytest.mark.parametrize("name", ["ols_slope", "sen_slope", "corr_pr", "pcorr_sund"])
def test_caption_says_whether_the_dots_are_p_or_q(name):
    default = render_caption(name, {})
    assert "p < 0.05 (p-value;" in default and "q-value" not in default
    q = render_caption(name, {"classes": {"trend": {"p": "q"}, "correlation": {"p": "q"}}})
    assert "q < 0.05 (Benjamini–Hochberg q-value over the region's pixels;" in q


def test_caption_of_the_future_classes_says_the_no_change_band():
    cap = render_caption("future_class", {"classes": {"trend": {"no_change_slope": 0.5}}})
    assert "no change: |slope| ≤ 0.5" in cap


def test_summary_and_area_captions_say_the_persistence_rule_and_bands():
    change = {"classes": {"trend": {"no_change_slope": 0.5},
                          "hurst": {"random_band": 0.05, "require_significance": True}}}
    summary, area = render("summary.rst", change), render("area_stats.rst", change)
    assert "persistent (H > 0.55, hurst_p < 0.05, the same rule in every row)" in summary
    assert "no change where |slope| ≤ 0.5" in area
    assert "random within 0.05 of the middle one, persistence only where hurst_p < 0.05" in area
