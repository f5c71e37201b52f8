"""The HTTP API (FastAPI): `create_app` builds it; function_app.py and `serve` run it."""
