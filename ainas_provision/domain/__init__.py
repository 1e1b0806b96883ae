"""The domain: resource kinds and their fields, the desired state."""
