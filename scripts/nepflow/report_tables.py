"""The run's tables as HTML pages the Snakemake report shows inline (it only offers CSV and Markdown as downloads).

``area_page``: tables/area_stats.csv as an HTML table, one section per region; ``summary_page``:
tables/summary.md (the Markdown nepflow writes, ``nepflow.summary``: a heading, paragraphs, one pipe table
and its notes) as HTML. Both are standalone pages with a small style sheet, no scripts, no external links.
"""

from __future__ import annotations

import html

import pandas as pd

STYLE = """<style>
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 10px; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
h1 { font-size: 18px; } h2 { font-size: 16px; margin-top: 1.2em; }
p { max-width: 60em; }
</style>"""


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        f"{STYLE}\n</head>\n<body>\n{body}</body>\n</html>\n"
    )


def _table(header: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{html.escape(c)}</td>' if num else f"<td>{html.escape(c)}</td>"
            for c, num in zip(row, numeric)
        )
        + "</tr>\n"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def area_page(table: pd.DataFrame, title: str) -> str:
    """tables/area_stats.csv as HTML: one table per region (``all`` first), areas in km2 with thousands
    separators, percentages with two decimals."""
    cols = [c for c in table.columns if c != "region"]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in cols]

    def cell(v, col):
        if isinstance(v, float) and pd.isna(v):
            return "n/a"
        if "km2" in col:
            return f"{v:,.0f}"
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    regions = list(dict.fromkeys(["all", *table["region"]]))
    body = f"<h1>{html.escape(title)}</h1>\n"
    for region in regions:
        part = table[table["region"] == region]
        if part.empty:
            continue
        rows = [[cell(v, c) for v, c in zip(r, cols)] for r in part[cols].itertuples(index=False)]
        body += f"<h2>{html.escape(str(region))}</h2>\n" + _table(cols, rows, numeric)
    return _page(title, body)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def summary_page(markdown: str) -> str:
    """tables/summary.md as HTML: ``# `` heading, paragraphs, the pipe table (right-aligned where its
    alignment row says ``---:``) and the notes."""
    lines = markdown.splitlines()
    title, body, para, i = "nepflow summary", "", [], 0

    def flush():
        nonlocal body, para
        if para:
            body += f"<p>{html.escape(' '.join(para))}</p>\n"
            para = []

    while i < len(lines):
        line = lines[i]
        if line.startswith("# "):
            flush()
            title = line[2:].strip()
            body += f"<h1>{html.escape(title)}</h1>\n"
        elif line.startswith("|"):
            flush()
            header, align = _cells(line), _cells(lines[i + 1]) if i + 1 < len(lines) else []
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            body += _table(header, rows, [a.endswith(":") for a in align])
            continue
        elif line.strip():
            para.append(line.strip())
        else:
            flush()
        i += 1
    flush()
    return _page(title, body)
