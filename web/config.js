// Deployment settings of the dashboard. Edit this file (it is served as it is) or replace it
// when installing; every key is optional.
//
//   basemap             tile URL template of a basemap reachable from the command centre,
//                       e.g. an intranet tile server: "https://tiles.example.gov.cn/{z}/{x}/{y}.png".
//                       Default none: the district, township and village boundaries are the map,
//                       so the dashboard works with no internet at all.
//   basemapAttribution  text shown in the corner for that basemap.
//   basemapMaxZoom      highest zoom the tile server has (default 18).
window.GRIDMAP_CONFIG = Object.assign({
  basemap: null,
  basemapAttribution: "",
  basemapMaxZoom: 18,
}, window.GRIDMAP_CONFIG || {});
