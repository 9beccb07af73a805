"""Middleware of the front door, one concern per module. Their order is written once, in ``app.py``."""
