"""Ray actors and the one module that talks to the Ray cluster. Only this package imports ``ray``."""
