"""The officials' HTTP API (FastAPI). Built on `services.projects`; see issue 4."""
