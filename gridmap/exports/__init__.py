"""The parts of the GIS deliverables shared by file exports and the OGC API.

:mod:`gridmap.exports.catalogue` defines the layers (grids per level, enterprises,
hazards, persons, role assignments), their fields with Chinese labels and the SQL that
reads them within a scope; :mod:`gridmap.exports.writers` writes them as GeoPackage,
Shapefile, GeoJSON, KML, CSV and XLSX. The entry point for exports is
:mod:`gridmap.export`; the OGC API – Features is :mod:`gridmap.ogc`.
"""
