"""The demo generator: deterministic, plausible North China, planted signals present."""

import numpy as np
import pytest

from nepflow import config as nconfig
from nepflow.sources import demo

CFG = {
    "seed": 20240601,
    "meteo_resolution": 0.25,
    "land_resolution": 0.125,
    "bounds": None,
    "warming": 0.03,
    "greening": {"background": 0.004, "hotspot": 0.02, "decline": -0.008},
    "persistence": {"west": 0.6, "east": -0.5},
}
BOUNDS = [110.0, 34.0, 123.0, 43.0]


@pytest.fixture(scope="module")
def year2005():
    return demo.generate(2005, CFG, BOUNDS)


def test_deterministic(year2005):
    again = demo.generate(2005, CFG, BOUNDS)
    for product, ds in year2005.items():
        for name in ds.data_vars:
            np.testing.assert_array_equal(ds[name].values, again[product][name].values)
    other_seed = demo.generate(2005, {**CFG, "seed": 1}, BOUNDS)
    assert not np.array_equal(other_seed["meteo"]["pr"].values, year2005["meteo"]["pr"].values)


def test_grids_and_units(year2005):
    m = year2005["meteo"]
    assert m.sizes == {"time": 12, "y": 36, "x": 52}
    assert year2005["fpar"].sizes == {"time": 12, "y": 72, "x": 104}
    assert m.rio.crs.to_epsg() == 4326
    assert m["pr"].attrs["units"] == "mm month-1"
    assert m["tas"].attrs["units"] == "degC"


def test_plausible_ranges(year2005):
    m = year2005["meteo"]
    pr_ann = m["pr"].sum("time").values
    assert 250 < pr_ann.min() and pr_ann.max() < 1500  # a wet year of a south-eastern cell: up to ~1,400 mm
    tas = m["tas"].values
    assert -25 < tas.min() < -5 and 24 < tas.max() < 32
    assert 4 < m["tas"].mean("time").values.min() and m["tas"].mean("time").values.max() < 18
    ssrd = m["ssrd"].sum("time").values
    assert 4000 < ssrd.min() and ssrd.max() < 6800  # MJ m-2 yr-1, North China 4,500–6,000
    rn = m["rn"].sum("time").values
    assert 1200 < rn.min() and rn.max() < 3600
    evap = m["evap"].values
    assert (evap >= 0).all() and (m["evap"].sum("time") <= m["pr"].sum("time") + 1e-3).all()
    sund = year2005["sunshine"]["sund"].sum("time").values
    assert 1200 < sund.min() and sund.max() < 3200  # h yr-1 (a cloudy year of a south-eastern cell: ~1,300)
    fpar = year2005["fpar"]["fpar"].values
    assert fpar.min() >= 0 and fpar.max() <= 0.95
    water = year2005["landcover"]["lc"].values == 17  # the Bohai and the Yellow Sea, Baiyangdian
    assert 0.05 < water.mean() < 0.25 and (fpar[:, water] == 0).all()
    assert 0.4 < fpar[6][~water].mean() and fpar[0][~water].mean() < 0.2  # green July, dormant January


def test_precipitation_gradient_northwest_to_southeast(year2005):
    pr = year2005["meteo"]["pr"].sum("time")
    nw = float(pr.sel(x=slice(110, 113), y=slice(43, 40)).mean())
    se = float(pr.sel(x=slice(118, 123), y=slice(37, 34)).mean())
    assert se > nw + 200


def test_planted_greening_in_hotspots():
    lon, lat = np.array([116.3, 112.0, 116.2, 110.8, 121.5, 116.9]), np.array([41.5, 39.2, 36.2, 35.5, 37.0, 39.5])
    rate = demo.greening_rate(lon, lat, CFG)
    assert rate[:3] == pytest.approx(0.02, abs=1e-3)  # hotspots
    assert rate[3] == pytest.approx(0.004, abs=1e-4)  # background in the west (south Shanxi)
    assert rate[4] == pytest.approx(0.0, abs=1e-4)  # fading to none in the east (east Shandong)
    assert rate[5] < 0  # Beijing–Tianjin decline


def test_fpar_follows_the_planted_trend():
    early = demo.generate(2001, CFG, BOUNDS)["fpar"]["fpar"]
    late = demo.generate(2019, CFG, BOUNDS)["fpar"]["fpar"]
    hot = dict(x=116.3, y=41.5, method="nearest")
    assert float(late.sel(**hot).sum()) > 1.2 * float(early.sel(**hot).sum())


def test_planted_persistence_of_the_precipitation_anomaly():
    years = range(1951, 2100)
    west = np.array([demo._ar1(CFG["seed"], 1, 0.6, y) for y in years])
    east = np.array([demo._ar1(CFG["seed"], 2, -0.5, y) for y in years])
    lag1 = lambda a: np.corrcoef(a[:-1], a[1:])[0, 1]  # noqa: E731
    assert lag1(west) == pytest.approx(0.6, abs=0.15)
    assert lag1(east) == pytest.approx(-0.5, abs=0.15)
    assert west.std() == pytest.approx(1, abs=0.25)


def test_a_year_is_the_same_whatever_else_is_asked():
    a = demo._ar1(CFG["seed"], 1, 0.6, 2010)
    demo._ar1(CFG["seed"], 1, 0.6, 2030)
    assert demo._ar1(CFG["seed"], 1, 0.6, 2010) == a


def test_demo_towers_stand_on_their_stated_land_cover():
    """Each synthetic tower's stated IGBP class is the demo's land cover over the whole 0.25 degree cell around it
    (and so at any finer grid): validation states a land-cover match for every demo site."""
    from nepflow import demo_sites

    for site in demo_sites.SITES:
        x0, y0 = np.floor(site["lon"] / 0.25) * 0.25, np.floor(site["lat"] / 0.25) * 0.25
        xs, ys = np.meshgrid(x0 + 0.005 + np.arange(25) * 0.01, y0 + 0.005 + np.arange(25) * 0.01)
        assert set(np.unique(demo.land_cover(xs, ys))) == {site["landcover"]}, site["id"]


def test_land_cover_classes():
    lon, lat = np.array([116.4, 115.5, 111.0, 117.5, 119.5, 115.95]), np.array([39.9, 41.0, 42.5, 36.8, 38.8, 38.88])
    lc = demo.land_cover(lon, lat)
    # Beijing urban, Yanshan forest, Bashang grass, plain cropland, the Bohai, Baiyangdian lake
    assert list(lc) == [13, 4, 10, 12, 17, 17]


def test_the_demo_sea_follows_the_coast():
    """The demo's sea is the Bohai and the Yellow Sea: Tianjin, Qingdao and Dalian on land, the sea off them
    sea; a meteorological cell is masked where less than half of it is land (ERA5-Land's rule)."""
    lon = np.array([117.2, 120.38, 121.6, 118.5, 120.8, 122.5])
    lat = np.array([39.12, 36.07, 38.95, 38.9, 35.8, 37.8])
    assert demo.is_sea(lon, lat).tolist() == [False, False, False, True, True, True]
    frac = demo.land_fraction(np.array([117.0, 119.0, 117.75]), np.array([39.0, 38.5, 38.85]), 0.1)
    assert frac[0] == 1 and frac[1] == 0 and 0 < frac[2] < 1  # inland, open sea, on the Tianjin coast


def annual_drivers(cfg, years=range(2000, 2021)):
    """Annual precipitation (mm), mean temperature (degC) and sunshine (h) at the centre of every 0.5 degree
    cell of the demo region: (years, cells) each, and the cells' longitudes."""
    lon, lat = np.meshgrid(np.arange(110.25, 123.0, 0.5), np.arange(34.25, 43.0, 0.5))
    out = {"pr": [], "tas": [], "sund": []}
    for y in years:
        f = demo._meteo_fields(y, cfg, lon, lat)
        out["pr"].append(f["pr"].sum(0).ravel())
        out["tas"].append(f["tas"].mean(0).ravel())
        out["sund"].append(f["sund"].sum(0).ravel())
    return {k: np.array(v) for k, v in out.items()}, lon.ravel()


def as_cube(v):
    import xarray as xr

    return xr.DataArray(v, dims=("year", "x"), coords={"year": np.arange(2000, 2000 + v.shape[0])})


def test_planted_persistence_against_a_phi0_control():
    """Annual precipitation of the western cells, H on the detrended series (blind to the warming and any
    trend): the planted phi = 0.6 against the same demo with phi = 0, and the east's phi = -0.5 below it."""
    from nepflow import stats

    control = {**CFG, "persistence": {"west": 0.0, "east": 0.0}}
    planted, lon = annual_drivers(CFG)
    null, _ = annual_drivers(control)
    west, east = lon < 112.5, lon > 120
    hp = {
        k: stats.hurst(as_cube(np.log(d["pr"])), series="detrended")
        for k, d in (("planted", planted), ("control", null))
    }
    h_w = {k: float(v.hurst.values[west].mean()) for k, v in hp.items()}
    h_e = {k: float(v.hurst.values[east].mean()) for k, v in hp.items()}
    assert h_w["planted"] > h_w["control"] + 0.05, h_w
    assert h_e["planted"] < h_e["control"] - 0.03, h_e
    sig = {k: float(np.mean(v.hurst_p.values[west] < 0.1)) for k, v in hp.items()}
    assert sig["planted"] > 2 * sig["control"], sig
    # independent realisations per cell: neighbouring western cells' AR(1) series are uncorrelated
    a = np.array([[demo._ar1(CFG["seed"], 1, 0.6, y, (c, 2000)) for y in range(1960, 2021)] for c in range(40)])
    r = np.corrcoef(a)[np.triu_indices(40, 1)]
    assert abs(r.mean()) < 0.05 and np.abs(r).max() < 0.6


def test_drivers_are_not_collinear_and_a_planted_partial_correlation_is_recovered():
    """Within a cell, precipitation and sunshine share the cloudiness they are planted to share (CLOUD_PR),
    not all of it; a response planted on precipitation and sunshine alone gets the partial correlations it
    was given (unrecoverable with collinear drivers)."""
    from nepflow import stats

    d, lon = annual_drivers(CFG)
    r = np.array([np.corrcoef(d["pr"][:, j], d["sund"][:, j])[0, 1] for j in range(d["pr"].shape[1])])
    se = lon > 117
    assert np.median(r[se]) < -0.3 and np.median(np.abs(r)) < 0.85, np.median(r[se])
    z = {k: (v - v.mean(0)) / v.std(0) for k, v in d.items()}
    rng = np.random.default_rng(3)
    y = z["pr"] - z["sund"] + rng.standard_normal(z["pr"].shape)  # nothing planted on temperature
    ds = stats.correlation(as_cube(y), {k: as_cube(v) for k, v in d.items()})
    assert np.mean((ds.pr_pr.values > 0) & (ds.p_pr_pr.values < 0.05)) > 0.8
    assert np.mean((ds.pr_sund.values < 0) & (ds.p_pr_sund.values < 0.05)) > 0.8
    assert np.mean(ds.p_pr_tas.values < 0.05) < 0.15


def test_the_demo_job_is_the_same_whatever_products_a_run_takes_from_it():
    """The demo generates its products in one job per year: that job (its name, products, outputs)
    is the same whether a run takes four products from it or three, so runs sharing the cache share
    the job and neither reruns it nor rewrites files the other has read."""
    from nepflow import sources

    everything = {"meteo": "demo", "fpar": "demo", "landcover": "demo", "sunshine": "demo"}
    local_meteo = {**everything, "meteo": "local"}
    full = ("demo", ("meteo", "fpar", "landcover", "sunshine"))
    assert sources.retrieve_jobs(everything) == [full]
    assert sources.retrieve_jobs(local_meteo) == [("local", ("meteo",)), full]
    assert sources.retrieve_jobs({**everything, "evap": "earthdata"})[-1] == ("earthdata", ("evap",))


def test_the_demo_manifests_name_their_files_relative_to_themselves(tmp_path):
    """A moved or archived cache still opens: the land products' manifests name the tiles beside them; the
    tiles' bytes do not depend on the folder they are written in."""
    import json
    import shutil

    cfg = {"bbox": [113.0, 37.0, 114.0, 38.0], "demo": CFG}
    a = tmp_path / "a"
    paths = {k: a / v for k, v in demo.outputs("fpar", 2005, cfg).items()}
    demo.retrieve("fpar", 2005, cfg, paths)
    names = [f["name"] for f in json.loads(paths["manifest"].read_text())["files"]]
    assert names[0].startswith("fpar/MOD15A2H.A2005001.h") and (paths["manifest"].parent / names[0]).exists()
    again = {k: tmp_path / "c" / v for k, v in demo.outputs("fpar", 2005, cfg).items()}
    demo.retrieve("fpar", 2005, cfg, again)  # elsewhere: the same bytes (sha256 of every tile in the manifest)
    assert again["manifest"].read_bytes() == paths["manifest"].read_bytes()
    shutil.move(a, tmp_path / "b")
    moved = tmp_path / "b" / paths["manifest"].relative_to(a)
    ds = demo.open_year("fpar", 2005, moved, cfg)
    assert ds["fpar"].notnull().any()


@pytest.mark.parametrize("product", ["meteo", "fpar", "landcover"])
def test_the_demo_delivers_on_the_grids_it_declares(tmp_path, product):
    """The source contract's PROJECTED (what the plan's check of regrid.methods reads: conservative needs a
    lon/lat source) is the grid open_year gives."""
    from nepflow import sources

    cfg = {"bbox": [113.0, 37.0, 114.0, 38.0], "demo": CFG}
    paths = {k: tmp_path / v for k, v in demo.outputs(product, 2005, cfg).items()}
    demo.retrieve(product, 2005, cfg, paths)
    ds = demo.open_year(product, 2005, sources.delivered(paths), cfg, {"default": 0.0})
    assert (not ds.rio.crs.is_geographic) == (product in demo.PROJECTED)


def test_the_demo_delivers_the_real_formats(tmp_path):
    """What one demo retrieve job writes is what the real services deliver, and its source opens it with
    the real decoding: ERA5-Land monthly means as the CDS zip (two GRIB step-type streams, valid_time,
    per-day accumulations, evaporation negative, sea cells masked), FPAR as MOD15A2H and land cover as MCD12Q1
    HDF4-EOS tiles (8-day composites, fill codes, FparLai_QC), sunshine as station records."""
    import json
    import zipfile

    import pandas as pd
    import xarray as xr

    cfg = {
        **nconfig.defaults("sources"),
        "bbox": [116.0, 38.0, 119.0, 40.0],
        "demo": CFG,
    }  # Tianjin, the Bohai  # as the rules give it
    paths = {p: {k: tmp_path / v for k, v in demo.outputs(p, 2005, cfg).items()} for p in demo.DELIVERS}
    for product in demo.DELIVERS:
        demo.retrieve(product, 2005, cfg, paths[product])

    with zipfile.ZipFile(paths["meteo"]["data"]) as z:
        assert sorted(z.namelist()) == ["data_stream-moda_stepType-avgad.nc", "data_stream-moda_stepType-avgua.nc"]
        z.extractall(tmp_path / "zip")
    ua = xr.open_dataset(tmp_path / "zip" / "data_stream-moda_stepType-avgua.nc")
    ad = xr.open_dataset(tmp_path / "zip" / "data_stream-moda_stepType-avgad.nc")
    assert list(ua.data_vars) == ["t2m"] and set(ad.data_vars) == {"tp", "ssrd", "ssr", "str", "e"}
    assert ua["t2m"].dims == ("valid_time", "latitude", "longitude") and ua["t2m"].attrs["units"] == "K"
    assert float(ad["e"].max()) < 0 and ad["tp"].attrs["units"] == "m"  # evaporation is negative (downward flux)
    meteo = demo.open_year("meteo", 2005, paths["meteo"]["data"], cfg)
    days = pd.to_datetime(ad["valid_time"].values).days_in_month.values[:, None, None]
    np.testing.assert_allclose(meteo["pr"].values, ad["tp"].values * days * 1000, rtol=1e-5)  # m per day
    np.testing.assert_allclose(meteo["evap"].values, -ad["e"].values * days * 1000, rtol=1e-5)

    # the sea cells (less than half land) have no value, as ERA5-Land's; the land cells all have one
    lon, lat = np.meshgrid(ua["longitude"].values, ua["latitude"].values)
    sea = demo.land_fraction(lon, lat, CFG["meteo_resolution"]) < 0.5
    assert sea.any() and (~sea).any()
    assert np.isnan(ua["t2m"].values[:, sea]).all() and np.isfinite(ua["t2m"].values[:, ~sea]).all()
    assert np.isnan(ad["tp"].values[:, sea]).all() and np.isnan(meteo["tas"].values[:, sea]).all()

    # MOD15A2H: 8-day composites as NASA names and lays them out (HDF4-EOS tiles), with the product's codes
    from nepflow.sources import modis

    manifest = json.loads(paths["fpar"]["manifest"].read_text())
    tiles = [paths["fpar"]["manifest"].parent / f["name"] for f in manifest["files"]]
    info = [modis.parse_name(t.name) for t in tiles]
    assert manifest["kind"] == "hdf" and {i["short"] for i in info} == {"MOD15A2H"}
    assert sorted({i["doy"] for i in info}) == list(range(1, 366, 8))  # 46 composites
    dn = np.stack([modis.read_sds(t, "Fpar_500m", decode=False)[0] for t in tiles])
    qc = np.stack([modis.read_sds(t, "FparLai_QC", decode=False)[0] for t in tiles])
    attrs = modis.read_sds(tiles[0], "Fpar_500m", decode=False)[1]
    assert dn.dtype == np.uint8 and attrs["scale_factor"] == 0.01 and attrs["_FillValue"] == 255
    assert set(np.unique(dn[dn > 100])) == {250, 254, 255}  # urban (Tianjin), water (the Bohai), fill
    assert (qc[(dn == 250) | (dn == 254)] == 157).all()  # the QC real tiles carry on land-cover codes
    valid = dn <= 100
    main = valid & ((qc & 1) == 0) & ((qc >> 5) <= 1)  # MODLAND_QC 0: main algorithm (SCF_QC 0 or 1)
    backup = valid & ((qc & 1) == 1) & ((qc >> 5) == 3) & (((qc >> 3) & 3) == 1)  # cloudy: back-up algorithm
    assert (main | backup)[valid].all() and 0.05 < backup.sum() / valid.sum() < 0.4
    pixel = modis.grid_info(tiles[0])["nx"]
    assert 2400 % pixel == 0 and modis.grid_info(tiles[0])["struct"]["Projection"] == "GCTP_SNSOID"
    fpar = demo.open_year("fpar", 2005, paths["fpar"]["manifest"], cfg)["fpar"]  # the earthdata decoding
    assert fpar.attrs["pixel_months_main"] > 0 and fpar.attrs["pixel_months_backup"] > 0
    assert fpar.attrs["source"].startswith("nepflow synthetic North China")
    assert fpar.rio.crs.to_proj4().startswith("+proj=sinu") and 0 <= float(fpar.min()) <= float(fpar.max()) <= 1

    lc_tiles = [
        paths["landcover"]["manifest"].parent / f["name"]
        for f in json.loads(paths["landcover"]["manifest"].read_text())["files"]
    ]
    assert [modis.parse_name(t.name)["short"] for t in lc_tiles] == ["MCD12Q1"] * len(lc_tiles)
    classes = set(np.unique(np.concatenate([modis.read_sds(t, "LC_Type1", decode=False)[0].ravel() for t in lc_tiles])))
    assert {12, 13, 17} <= classes <= set(range(1, 18)) | {255}

    records = pd.read_csv(paths["sunshine"]["data"].with_name("stations-2005.csv"))
    assert list(records.columns) == ["station_id", "lon", "lat", "date", "hours"]
    assert records["date"].str.fullmatch(r"2005-\d\d").all() and len(records) % 12 == 0
    sund = demo.open_year("sunshine", 2005, paths["sunshine"]["manifest"], cfg)["sund"]
    assert sund.attrs["interpolation"] == "thin_plate_spline" and sund.attrs["units"] == "h month-1"


def test_a_demo_year_regridded_fills_its_coastal_pixels(tmp_path):
    """Tianjin on the regrid road every source takes: region pixels under the demo's masked sea cells take the
    nearest land cell's value (regrid.coast_fill_km), the forcing records how many, and every region pixel has
    every driver."""
    from nepflow import drivers, grid, regions, schema, sources

    shapes = regions.province_shapes(["Tianjin"])
    target = grid.grid_dataset(grid.target_grid("EPSG:4326", 0.05, None, shapes), shapes).load()
    demo_cfg = {**CFG, "meteo_resolution": 0.1, "land_resolution": 0.05}
    cfg = {**nconfig.defaults("sources"), "bbox": [116.5, 38.3, 118.3, 40.5], "demo": demo_cfg}
    inputs = {}
    for product in demo.DELIVERS:
        paths = {k: tmp_path / v for k, v in demo.outputs(product, 2005, cfg).items()}
        demo.retrieve(product, 2005, cfg, paths)
        inputs[product] = sources.delivered(paths)
    defaults = schema.defaults()
    params = {
        "sources": {p: "demo" for p in demo.DELIVERS},
        "source_settings": {"demo": demo_cfg},
        "methods": defaults["regrid"]["methods"],
        "landcover": defaults["landcover"],
        "par_fraction": defaults["carbon"]["par_fraction"],
        "strictness": defaults["checks"]["strictness"],
        "land_max_missing": defaults["regrid"]["land_max_missing"],
        "coast_fill_km": defaults["regrid"]["coast_fill_km"],
    }
    with drivers.year_forcing(2005, inputs, target, params, tmp_path / "forcing.nc") as (ds, _, late_checks, _):
        ds = ds.compute()
        late_checks()
    inside = target["region"].values > 0
    for name in ("tas", "pr", "rn", "evap", "par"):
        assert ds[name].attrs["coastal_fill_pixels"] > 0, name
        assert ds[name].attrs["coastal_fill_km"] == params["coast_fill_km"]
    for name in ds.data_vars:
        assert np.isfinite(ds[name].values[:, inside]).all(), name
    # without the fill, the coast is not covered: the one-line coverage error
    with pytest.raises(Exception, match=r"variable tas does not cover the region"):
        with drivers.year_forcing(2005, inputs, target, {**params, "coast_fill_km": 0}, tmp_path / "f0.nc") as run:
            run[0].compute()
