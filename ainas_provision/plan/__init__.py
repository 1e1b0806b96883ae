"""Plans: the changes between the manifests and the target, and the guard rails around them."""
