"""Routers, one module per resource; each route calls one gridmap function."""
