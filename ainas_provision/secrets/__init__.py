"""Secret values: references in manifests, their resolution, and keeping them out of sight."""
