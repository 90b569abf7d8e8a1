"""The HTTP API (FastAPI). Never imports Ray or the operators' heavy dependencies."""
