"""The HTML report of a completed tiny run: grouped by category, every figure and table with its own caption.

One report build (``snakemake --report x.zip``) on the shared ``tiny_run``; the
zip is unpacked and the report's embedded category and result tables read back.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import zipfile

import numpy as np

import pytest

import nepflow
from nepflow import archive, figure_index
from workflow import ROOT, snakemake


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
    m = re.search(r'<script id="workflow-desc">\s*var workflow_desc = (.*?);\s*</script>', page, re.S)
    description = json.loads(m.group(1))
    captions = {
        path.rsplit("/", 1)[-1]: re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r["caption"])))
        for path, r in results.items()
    }
    return {
        "names": names,
        "categories": table("categories"),
        "results": results,
        "captions": captions,
        "description": description,
        "figures": sorted(p.name for p in (tiny_run / "results/tiny/figures").glob("*.png")),
    }


def test_grouped_by_category(report):
    cats = report["categories"]
    assert set(cats) == {"Carbon", "Trend", "Persistence", "Stability", "Drivers", "Tables"}
    filed = {
        path.rsplit("/", 1)[-1]: (cat, sub)
        for cat, subs in cats.items()
        for sub, paths in subs.items()
        for path in paths
    }
    # every figure of the run is in the report, under its category, and only PNGs (the PDFs sit beside them)
    assert sorted(n for n in filed if n.endswith(".png")) == report["figures"]
    assert len(report["figures"]) == 18
    for name in report["figures"]:
        assert filed[name] == figure_index.FIGURES[name[:-4]], name
    assert filed["area_stats.csv"][0] == filed["summary.md"][0] == "Tables"
    # the tables are also HTML pages, which the report shows inline (CSV and Markdown it only offers for download)
    assert filed["area_stats.html"] == filed["area_stats.csv"] and filed["summary.html"] == filed["summary.md"]
    assert set(cats["Drivers"]) == {"Precipitation", "Air temperature", "Sunshine duration"}
    assert set(cats["Carbon"]) == {"Maps", "Time series"}
    assert any(n.endswith("/nep_mean.png") for n in report["names"])


def test_captions_state_method_units_thresholds_and_config(report):
    cap = report["captions"]
    for name in report["figures"] + ["area_stats.csv", "summary.md", "area_stats.html", "summary.html"]:
        assert len(cap[name]) > 150, name
        assert "{{" not in cap[name] and "{%" not in cap[name], name
    for name in report["figures"]:
        assert "2000–2020" in cap[name], name  # when, from config years
        assert "300 dpi" in cap[name], name  # figures.dpi
    assert "g C m-2 yr-1" in cap["nep_mean.png"] and "0.5 × GPP" in cap["nep_mean.png"]  # units, carbon.cue
    assert "1.8" in cap["nep_mean.png"] and "0.0912" in cap["nep_mean.png"]  # eps_c3, rh.b
    assert "g C m-2 yr-2" in cap["ols_slope.png"] and "p < 0.05" in cap["ols_slope.png"]  # classes.trend
    assert "Mann–Kendall test (variant original)" in cap["sen_slope.png"]  # analysis.mk_variant
    assert "CV ≤ 0.1" in cap["cv_class.png"] and "lowest > 0.4" in cap["cv_class.png"]  # cv_scheme default
    assert "ddof = 1" in cap["cv.png"]
    assert "H ≤ 0.35" in cap["hurst_class.png"] and "≤ 0.65" in cap["hurst_class.png"]  # classes.hurst
    assert "estimator rs" in cap["hurst.png"] and "1000 white-noise surrogates" in cap["hurst.png"]
    assert "H > 0.5" in cap["future_class.png"] and "share of the area" in cap["future_class.png"]
    assert "mm yr-1" in cap["corr_pr.png"] and "19 degrees of freedom" in cap["corr_pr.png"]
    assert "17 degrees of freedom" in cap["pcorr_tas.png"] and "°C" in cap["pcorr_tas.png"]
    assert "OLS" in cap["timeseries.png"] and "area-weighted" in cap["timeseries.png"]
    assert "Albers equal-area" in cap["hurst.png"] and "Albers" not in cap["timeseries.png"]
    assert "km2" in cap["area_stats.csv"] and "0.35, 0.5, 0.65" in cap["area_stats.csv"]
    assert "Tg C yr-1" in cap["summary.md"] and "p < 0.05" in cap["summary.md"]
    assert cap["area_stats.html"] == cap["area_stats.csv"] and cap["summary.html"] == cap["summary.md"]
    for path, r in report["results"].items():  # docutils rendered every caption without complaint
        assert "system-message" not in r["caption"], (path, r["caption"][-600:])
    # one caption per figure, not one for all
    assert len({cap[n] for n in report["figures"]}) == len(report["figures"])


@pytest.mark.parametrize("configfile", ["config.yaml", "north_china.yaml"])
def test_landing_page_is_prose_and_a_small_table(configfile):
    import docutils.core
    import jinja2
    import yaml
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if configfile != "config.yaml":
        from snakemake.utils import update_config

        update_config(cfg, yaml.safe_load((ROOT / "config" / configfile).read_text()))
    validate(cfg, str(ROOT / "config" / "schema.yaml"))
    cfg["nepflow"] = archive.code_version(ROOT)  # as the Snakefile sets it
    # rendered as Snakemake renders it (snakemake.report: trim_blocks and lstrip_blocks)
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    text = env.from_string((ROOT / "report" / "workflow.rst").read_text()).render(
        snakemake=type("S", (), {"config": cfg})
    )
    body = docutils.core.publish_parts(text, writer_name="html", settings_overrides={"halt_level": 2})["body"]
    assert "{" not in body and "http" not in body  # no raw dicts, no service URLs
    cells = re.findall(r"<td>(.*?)</td>", re.sub(r"\s+", " ", body))
    rows = dict(zip(cells[::2], cells[1::2]))
    assert set(rows) == {"region", "period", "grid", "sources", "models", "nepflow"}
    assert rows["nepflow"] == f"version {nepflow.__version__}, commit {cfg['nepflow']['commit']}"
    assert f"{cfg['years']['start']}–{cfg['years']['end']}" in rows["period"]
    assert f"meteorology: {cfg['sources']['meteo']}" in rows["sources"]
    assert "GPP: TEC" in rows["models"] and "Rh: Pei" in rows["models"]
    assert "System Message" not in body and "ERROR" not in body  # docutils' own complaints


def test_landing_page_of_the_built_report_has_its_table(report):
    """The description Snakemake itself rendered into report.html: the six-row table, no docutils error; the code
    that made the run is this checkout (its short commit, with "dirty" when it has uncommitted changes)."""
    desc = report["description"]
    assert "System Message" not in desc and "ERROR/" not in desc, desc[:2000]
    cells = re.findall(r"<td>(.*?)</td>", re.sub(r"\s+", " ", desc))
    assert cells[::2] == ["region", "period", "grid", "sources", "models", "nepflow"], cells
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True)
    assert cells[-1].startswith(f"version {nepflow.__version__}, commit {head.stdout.strip()}"), cells[-1]


def test_tables_render_inline_as_html_tables(report, tiny_run):
    """The report shows text/html results in its own view: the HTML pages hold every row of the CSV (per region)
    and of the summary's Markdown table, with the same numbers."""
    import pandas as pd

    page_entry = next(r for k, r in report["results"].items() if k.endswith("area_stats.html"))
    assert page_entry["mime_type"] == "text/html"
    tables = tiny_run / "results/tiny/tables"
    csv = pd.read_csv(tables / "area_stats.csv", keep_default_na=False, na_values=[""])
    page = (tables / "area_stats.html").read_text()
    sections = re.split(r"<h2>(.*?)</h2>", page)[1:]
    assert sections[0] == "all" and sorted(sections[::2]) == sorted(csv["region"].unique())
    for region, part in zip(sections[::2], sections[1::2]):
        rows = [
            [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
            for r in re.findall(r"<tr>(<td.*?)</tr>", part)
        ]
        want = csv[csv["region"] == region]
        assert [r[:2] for r in rows] == want[["classification", "class"]].values.tolist(), region
        np.testing.assert_allclose([float(r[2].replace(",", "")) for r in rows], want["area_km2"], atol=0.5)
        shown = [np.nan if r[3] == "n/a" else float(r[3]) for r in rows]  # undefined rows: no percent
        np.testing.assert_allclose(shown, want["percent"], atol=0.005)
    md = (tables / "summary.md").read_text()
    html_page = (tables / "summary.html").read_text()
    md_rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| measure")]
    html_rows = re.findall(r"<tr><td>(.*?)</td>", html_page)
    assert [html.unescape(r) for r in html_rows] == [line.split("|")[1].strip() for line in md_rows]
    assert html_page.count('<td class="num">') == sum(line.count("|") - 2 for line in md_rows)  # all but the measure
    assert "<script" not in page + html_page and "http" not in page + html_page


def test_report_in_a_real_browser(tiny_run, tmp_path):
    """Headless Chromium renders the landing page's table and opens the tables inline (skipped without Chromium;
    by hand: python tests/report_browser.py results/demo/report.html /tmp/shots, then look at the PNGs)."""
    import report_browser

    browser = report_browser.chromium()
    if not browser:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    page = tmp_path / "report.html"
    snakemake(tiny_run, "--report", str(page))
    landing = re.sub(r"\s+", " ", re.sub(r"<script.*?</script>", "", report_browser.dom(browser, page), flags=re.S))
    assert "System Message" not in landing
    assert re.findall(r"<td>(region|period|grid|sources|models|nepflow)</td>", landing) == [
        "region",
        "period",
        "grid",
        "sources",
        "models",
        "nepflow",
    ]
    view = report_browser.dom(browser, report_browser.view_page(page, "area_stats", tmp_path / "a.html"))
    assert re.search(r'<iframe[^>]+src="data:text/html', view), "area_stats.html is not shown inline"
    png = report_browser.screenshot(
        browser, report_browser.view_page(page, "summary", tmp_path / "s.html"), tmp_path / "s.png"
    )
    import matplotlib.image as mpimg

    assert mpimg.imread(png)[..., :3].std() > 0.05  # a rendered table, not a blank page


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
    smk = type(
        "S",
        (),
        {
            "config": cfg,
            "wildcards": type("W", (), {"name": name}),
            "params": type("P", (), {"cv_bounds": [0.1, 0.2, 0.3, 0.4]}),
        },
    )
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
    assert r"no change: \|slope\| ≤ 0.5" in cap  # escaped: |x| is a reST substitution


def test_summary_and_area_captions_say_the_persistence_rule_and_bands():
    change = {
        "classes": {"trend": {"no_change_slope": 0.5}, "hurst": {"random_band": 0.05, "require_significance": True}}
    }
    summary, area = render("summary.rst", change), render("area_stats.rst", change)
    assert "persistent (H > 0.55, hurst_p < 0.05, the same rule in every row)" in summary
    assert r"no change where \|slope\| ≤ 0.5" in area
    assert "random within 0.05 of the middle one, persistence only where hurst_p < 0.05" in area


def test_code_version_short_commit_dirty_or_unknown(tmp_path):
    """The landing page's version and commit: the commit's short hash, "dirty" after an edit of a tracked file,
    "unknown" outside a git checkout (an unpacked archive, even inside another repository's tree)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    (tmp_path / "Snakefile").write_text("# one\n")
    (tmp_path / "archive").mkdir()
    assert archive.code_version(tmp_path) == {"version": nepflow.__version__, "commit": "unknown (not a git checkout)"}
    for args in (["init", "-q"], ["add", "Snakefile"], ["commit", "-q", "-m", "x"]):
        subprocess.run([*git, *args], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert archive.code_version(tmp_path)["commit"] == head[:7]
    (tmp_path / "untracked.txt").write_text("not code")  # untracked files leave it clean
    assert archive.code_version(tmp_path)["commit"] == head[:7]
    (tmp_path / "Snakefile").write_text("# two\n")
    assert archive.code_version(tmp_path)["commit"] == f"{head[:7]}, dirty (uncommitted changes)"
    assert archive.code_version(tmp_path / "archive")["commit"] == "unknown (not a git checkout)"


def test_citation_states_the_version_the_code_has():
    """One version: nepflow.__version__ (outputs' provenance, the report); CITATION.cff repeats it."""
    import yaml

    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["version"] == nepflow.__version__
