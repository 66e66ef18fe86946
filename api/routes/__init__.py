"""HTTP routers of the Dakora API (one module per resource)."""
