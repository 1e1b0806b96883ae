"""The state: its protocols (StateStore, Locker), its model, the file and PostgreSQL stores."""
