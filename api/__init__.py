"""The FastAPI application that assembles :mod:`gridmap` for the web."""
