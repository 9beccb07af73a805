"""Metrics, traces and logs: Ray-free recorders and renderers (see docs/operations.md)."""
