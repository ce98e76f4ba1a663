"""Look at a Snakemake report in a real browser: headless Chromium screenshots and the DOM it rendered.

The report is one page whose views are chosen in JavaScript (no URLs): a view is opened by a copy of the page
that calls the report's own ``app`` after it has rendered. Used by tests/test_report.py (skipped without
Chromium) and by hand (README, Development):

    python tests/report_browser.py results/demo/report.html /tmp/shots
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

#: view name -> JavaScript run in the report once it has rendered
VIEWS = {
    "landing": "",
    "tables": 'app.showCategory("Tables");',
    "area_stats": "app.setView({content: 'html', resultPath: R, contentPath: results[R].data_uri});",
    "summary": "app.setView({content: 'html', resultPath: R, contentPath: results[R].data_uri});",
}
RESULT = {"area_stats": "area_stats.html", "summary": "summary.html"}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def view_page(report: Path, view: str, out: Path) -> Path:
    """A copy of ``report`` that opens ``view`` (a key of VIEWS) after loading."""
    js = VIEWS[view]
    if view in RESULT:
        js = f"const R = Object.keys(results).find(k => k.endsWith('/{RESULT[view]}'));" + js
    page = Path(report).read_text()
    script = f"<script>window.addEventListener('load', () => setTimeout(() => {{ {js} }}, 300));</script>"
    head, sep, tail = page.rpartition("</body>")  # the last one: the page's scripts hold the string too
    out.write_text(head + script + sep + tail if js else page)
    return out


def _run(browser: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,1000",
            "--virtual-time-budget=10000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def screenshot(browser: str, page: Path, png: Path) -> Path:
    _run(browser, f"--screenshot={png}", page.resolve().as_uri())
    return png


def dom(browser: str, page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return _run(browser, "--dump-dom", page.resolve().as_uri()).stdout


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__)
        return 2
    browser = chromium()
    if not browser:
        print("ERROR: no chromium on PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    report, outdir = Path(argv[0]), Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    shots = {
        v: str(screenshot(browser, view_page(report, v, outdir / f"{v}.html"), outdir / f"{v}.png")) for v in VIEWS
    }
    print(json.dumps(shots, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
