"""Backends: what the tool provisions (the embedded sandbox, an HTTPS endpoint)."""
