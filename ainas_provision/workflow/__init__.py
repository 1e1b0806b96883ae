"""The plan/apply/import sequences and their safety checks (run), and a live tenant -> manifests
(importing)."""
