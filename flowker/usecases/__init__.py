"""Use cases: what the API can do, between the HTTP front door and the store and actors."""
