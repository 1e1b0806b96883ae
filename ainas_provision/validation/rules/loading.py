"""The rules of reading files (reported by the loader and the merge)."""

from __future__ import annotations

from ainas_provision.validation.rules.registry import register

register("path", "the manifest path exists and holds manifest files", "load")
register("encoding", "manifest files are UTF-8", "load")
register("empty-file", "a manifest file is not empty", "load")
register("yaml-syntax", "manifest files are valid YAML", "load")
register("duplicate-key", "a key appears once in a mapping", "load")
register("yaml-tag", "no YAML tags that construct objects (!!python/…, custom tags)", "load")
register("too-complex", "no deep nesting, recursive aliases or alias bombs", "load")
register("not-a-mapping", "a manifest file is a mapping of sections", "load")
