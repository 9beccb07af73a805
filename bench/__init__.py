"""Flowker's benchmark harness: ``python -m bench`` runs every scenario on this machine and prints a table.

Every load, provider and Flowker service runs in a process of its own, started and stopped by
:mod:`bench.scenarios`; :mod:`bench.report` turns the measurements into the table.
"""
