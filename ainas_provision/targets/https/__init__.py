"""The HTTPS target: a client of the AINAS JSON API with client-certificate TLS."""
