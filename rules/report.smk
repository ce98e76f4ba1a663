# Figures, the report and the publication archive.
from nepflow import figure_index as nepflow_figure_index


rule figures:
    """Every map and time-series figure (PNG and PDF)."""
    input:
        trend=run_path("analysis/trend.nc"),
        hurst=run_path("analysis/hurst.nc"),
        stability=run_path("analysis/stability.nc"),
        correlation=run_path("analysis/correlation.nc"),
        classes=run_path("analysis/classes.nc"),
        series=run_path("series/annual.nc"),
        carbon=expand(run_path("carbon/{year}.nc"), year=YEARS),
        grid=run_path("grid.nc"),
    output:
        figures=report(
            directory(run_path("figures")),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category=nepflow_figure_index.report_category,
            subcategory=nepflow_figure_index.report_subcategory,
        ),
    params:
        **rule_params("figures"),
    log:
        log_path("figures"),
    benchmark:
        bench_path("figures")
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/figures.py"


rule report_tables:
    """The area table and the summary as HTML pages, shown inline in the report (CSV and Markdown are downloads)."""
    input:
        table=run_path("tables/area_stats.csv"),
        summary=run_path("tables/summary.md"),
    output:
        table=report(
            run_path("tables/area_stats.html"),
            caption="../report/area_stats.rst",
            category="Tables",
            subcategory="Area of every class",
        ),
        summary=report(
            run_path("tables/summary.html"),
            caption="../report/summary.rst",
            category="Tables",
            subcategory="Summary",
        ),
    params:
        **rule_params("report_tables"),
    log:
        log_path("report_tables"),
    # a page of text from two small tables: on a cluster, not worth a Slurm job and its queue wait
    localrule: True
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/figures.yaml"
    script:
        "../scripts/report_tables.py"


rule archive:
    """The publication archive: code, effective config, envs and lock, input manifests, outputs, provenance, RO-Crate."""
    input:
        all_outputs(),
    output:
        archive=run_path(f"archive/nepflow-{RUN}.tar.gz"),
        sums=run_path("archive/SHA256SUMS"),
    params:
        **rule_params("archive"),
    log:
        log_path("archive"),
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../envs/archive.yaml"
    script:
        "../scripts/archive.py"
