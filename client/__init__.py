"""dakora.client — the Python SDK (httpx): ``Dakora`` and ``AsyncDakora``."""
