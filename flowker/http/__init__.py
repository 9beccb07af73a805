"""The aiohttp front door: middleware, routes and the OpenAPI document."""
