"""Storage ports and adapters. Only this package imports a database driver."""
