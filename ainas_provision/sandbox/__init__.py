"""The AINAS sandbox: an emulator of AINAS in one SQLite file, for trying and testing changes."""
