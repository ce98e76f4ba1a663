"""MODIS HDF4-EOS tiles: georeferencing from the tile grid, decoding, mosaicking."""

import numpy as np
import pytest
from pyproj import Transformer

from fakeservers import modis_name, write_modis_tile
from nepflow.errors import NepflowError
from nepflow.sources import modis

W = 1111950.52  # tile width (m), docs/real-data.md
BEIJING = (116.4, 39.9)


def test_grid_constants():
    assert modis.TILE_WIDTH == pytest.approx(W, abs=0.005)
    assert modis.tile_bounds(0, 0)[0] == pytest.approx(-20015109.356, abs=1e-3)
    assert modis.tile_bounds(0, 0)[3] == pytest.approx(10007554.678, abs=1e-3)
    w, s, e, n = modis.tile_bounds(26, 4)
    assert (w, n) == pytest.approx((-20015109.356 + 26 * W, 10007554.678 - 4 * W), abs=0.2)
    assert e - w == pytest.approx(W) and n - s == pytest.approx(W)


def test_tiles_of_north_china():
    assert modis.tile_of(*BEIJING) == (26, 5)
    tiles = modis.tiles_for_bbox([110.2, 34.3, 122.8, 42.7])
    assert {(26, 4), (26, 5), (27, 4), (27, 5)} <= set(tiles)


def test_known_pixel_lands_at_its_lonlat(tmp_path):
    """A full 2400 x 2400 tile with one marked pixel: the one holding Beijing."""
    h, v = modis.tile_of(*BEIJING)
    x, y = modis.lonlat_to_sinusoidal(*BEIJING)
    w, _, _, n = modis.tile_bounds(h, v)
    col, row = int((x - w) // (W / 2400)), int((n - y) // (W / 2400))
    fpar = np.full((2400, 2400), 50, np.uint8)
    fpar[row, col] = 77
    qc = np.zeros((2400, 2400), np.uint8)
    path = write_modis_tile(
        tmp_path / modis_name("MOD15A2H", "2001001", h, v), "MOD15A2H", h, v, {"Fpar_500m": fpar, "FparLai_QC": qc}
    )
    ds = modis.read_tile(path, ["Fpar_500m"])
    assert ds.rio.crs.to_proj4().replace(" +type=crs", "").count("+R=6371007.181") == 1
    px = ds["Fpar_500m"].sel(x=x, y=y, method="nearest")
    assert float(px) == pytest.approx(0.77)
    # the pixel centre is within half a pixel (231.7 m) of Beijing, and pyproj agrees with the tile grid
    lon, lat = Transformer.from_crs(modis.SINUSOIDAL, "EPSG:4326", always_xy=True).transform(float(px.x), float(px.y))
    assert abs(float(px.x) - x) <= W / 4800 + 1e-6 and abs(float(px.y) - y) <= W / 4800 + 1e-6
    assert (lon, lat) == pytest.approx(modis.sinusoidal_to_lonlat(float(px.x), float(px.y)), abs=1e-9)
    assert abs(lat - BEIJING[1]) < 0.003 and abs(lon - BEIJING[0]) < 0.004
    t = ds.rio.transform()
    assert (t.c, t.f, t.a, -t.e) == pytest.approx((w, n, W / 2400, W / 2400), abs=1e-6)
    info = modis.grid_info(path)
    assert info["struct"]["XDim"] == 2400 and info["struct"]["Projection"] == "GCTP_SNSOID"


def test_mod15_decoding(tmp_path):
    dn = np.array([[0, 1, 50, 100], [248, 249, 250, 255]], np.uint8)
    qc = np.array([[0, 1, 2, 3], [0, 0, 0, 0]], np.uint8)
    path = write_modis_tile(
        tmp_path / modis_name("MOD15A2H", "2001009", 26, 4), "MOD15A2H", 26, 4, {"Fpar_500m": dn, "FparLai_QC": qc}
    )
    fpar, attrs = modis.read_sds(path, "Fpar_500m")
    np.testing.assert_allclose(fpar[0], [0.0, 0.01, 0.5, 1.0])
    assert np.isnan(fpar[1]).all()  # 248 is outside valid_range 0-100, 249-255 are fill codes
    assert attrs["scale_factor"] == 0.01 and attrs["_FillValue"] == 255
    raw, _ = modis.read_sds(path, "FparLai_QC", decode=False)
    assert raw.dtype == np.uint8 and (raw[0] & 1).tolist() == [0, 1, 0, 1]


def test_mod17_decoding(tmp_path):
    dn = np.array([[1234, -30000, 32700, 0], [32761, 32767, 32701, -30001]], np.int16)
    path = write_modis_tile(
        tmp_path / modis_name("MOD17A3HGF", "2001001", 27, 5), "MOD17A3HGF", 27, 5, {"Npp_500m": dn}
    )
    npp, attrs = modis.read_sds(path, "Npp_500m")
    np.testing.assert_allclose(npp[0] * 1000, [123.4, -3000.0, 3270.0, 0.0])  # DN x 0.1 = g C m-2 yr-1
    assert np.isnan(npp[1]).all()
    assert attrs["scale_factor"] == 0.0001


def test_struct_metadata_must_match_the_tile(tmp_path):
    good = write_modis_tile(
        tmp_path / modis_name("MCD12Q1", "2001001", 26, 4),
        "MCD12Q1",
        26,
        4,
        {"LC_Type1": np.full((6, 6), 12, np.uint8)},
    )
    wrong = tmp_path / modis_name("MCD12Q1", "2001001", 27, 4)
    wrong.write_bytes(good.read_bytes())  # tile h26v04's metadata under tile h27v04's name
    with pytest.raises(NepflowError, match="do not match tile h27v04"):
        modis.read_tile(wrong, ["LC_Type1"])
    bare = write_modis_tile(
        tmp_path / "x" / modis_name("MCD12Q1", "2001001", 26, 4),
        "MCD12Q1",
        26,
        4,
        {"LC_Type1": np.full((6, 6), 12, np.uint8)},
        struct=False,
    )
    assert modis.grid_info(bare)["nx"] == 6


def test_not_hdf4_and_bad_names(tmp_path):
    p = tmp_path / modis_name("MOD15A2H", "2001001", 26, 4)
    p.write_bytes(b"<html>login page</html>")
    with pytest.raises(NepflowError, match="not a readable HDF4 file") as err:
        modis.read_tile(p, ["Fpar_500m"])
    assert "\n" not in str(err.value)
    with pytest.raises(NepflowError, match="not a MODIS tile file name"):
        modis.parse_name("MOD15A2H.2001.hdf")
    info = modis.parse_name("MOD15A2H.A2000049.h26v04.061.2020117203153.hdf")
    assert (info["date"].isoformat(), info["h"], info["v"], info["version"]) == ("2000-02-18", 26, 4, "061")


def test_mosaic_places_tiles_and_crops(tmp_path):
    paths = []
    for h in (26, 27):
        for v in (4, 5):
            lc = np.full((8, 8), 10 * (h - 26) + (v - 4) + 1, np.uint8)
            paths.append(
                write_modis_tile(tmp_path / modis_name("MCD12Q1", "2001001", h, v), "MCD12Q1", h, v, {"LC_Type1": lc})
            )
    m = modis.mosaic(paths, "LC_Type1", decode=False)
    assert m.shape == (16, 16) and m.dtype == np.uint8
    assert (m.values[:8, :8] == 1).all() and (m.values[8:, :8] == 2).all()
    assert (m.values[:8, 8:] == 11).all() and (m.values[8:, 8:] == 12).all()
    assert float(m.x[0]) == pytest.approx(modis.tile_bounds(26, 4)[0] + W / 16)
    assert float(m.y[0]) == pytest.approx(modis.tile_bounds(26, 4)[3] - W / 16)
    assert m.rio.crs is not None
    # a missing tile is fill (raw) or NaN (decoded)
    m3 = modis.mosaic(paths[:3], "LC_Type1", decode=False)
    assert (m3.values[8:, 8:] == 255).all()
    assert np.isnan(modis.mosaic(paths[:3], "LC_Type1").values[8:, 8:]).all()
    # cropping to sinusoidal bounds keeps the pixels whose centres are inside
    w, s, e, n = modis.tile_bounds(27, 5)
    c = modis.mosaic(paths, "LC_Type1", decode=False, bounds=(w - 1, s, e, n))
    assert c.shape == (8, 8) and (c.values == 12).all()
