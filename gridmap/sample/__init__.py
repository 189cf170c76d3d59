"""Synthetic sample data: exact tessellations and the shipped sample district.

:mod:`gridmap.sample.tessellate`
    exact partitions of a polygon into regions around seed points (reusable for any
    district, and for a national-scale synthetic set).
:mod:`gridmap.sample.pizhou`
    the generator of the shipped sample district 邳州市 (``data/boundaries/pizhou``).
:mod:`gridmap.sample.names`
    Chinese naming material (people, roads, enterprises, phone numbers).
"""
