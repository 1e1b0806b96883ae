"""Targets: what the tool provisions (the embedded sandbox, an HTTPS endpoint), and the registry
that turns a `--target` into one."""
