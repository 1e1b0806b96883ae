"""The model: resource kinds and their fields, the desired state, the current state."""
