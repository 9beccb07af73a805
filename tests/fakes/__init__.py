"""Fakes of the ports, for the fast tier: no Ray, no sockets, no files."""
