"""Strobe's runtime: HTTP API, store, storage, media and the Ray workers."""
