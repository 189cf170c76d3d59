"""gridmap — GIS for grid-based work-safety supervision (安全生产网格化监管).

The core library: models, spatial logic, imports and exports, the CLI. It never imports
FastAPI; the web application in ``api/`` assembles it.
"""

__version__ = "0.1.0"
