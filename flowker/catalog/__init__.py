"""The static catalog of providers, executors, triggers and templates (``/v1/catalog``)."""
