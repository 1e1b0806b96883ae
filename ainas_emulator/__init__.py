"""An emulator of AINAS in one SQLite file: the embedded target of the tool, and the sandbox
server behind it (HTTPS with mutual TLS, a JSON API). Its own package, so that it checks the
tool's work rather than sharing the tool's mistakes."""
