"""Loading manifests: safe YAML with marks, files, templates, data files, merging."""
