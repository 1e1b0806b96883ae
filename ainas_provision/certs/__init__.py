"""Signing certificates (代理人証明書): reading a ``.p12`` as AINAS reads it.

The reader is shared by the CLI, validation and the embedded sandbox; it knows nothing of any
of them.
"""
