"""The flow templates shipped in the repo: flow_templates/<name>/v<N>.json."""

import json
import re
from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "flow_templates"
_VERSION_FILE = re.compile(r"^v(\d+)\.json$")


def template_versions(name: str) -> list[int]:
    folder = TEMPLATES_DIR / name
    if not re.fullmatch(r"[a-z0-9_]+", name) or not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for f in folder.iterdir() if (m := _VERSION_FILE.match(f.name)))


def template_list() -> dict[str, list[int]]:
    """Template name -> its versions, oldest first."""
    return {
        folder.name: template_versions(folder.name)
        for folder in sorted(TEMPLATES_DIR.iterdir())
        if folder.is_dir() and template_versions(folder.name)
    }


def template_load(name: str, version: int | None = None) -> dict | None:
    versions = template_versions(name)
    if not versions:
        return None
    version = versions[-1] if version is None else version
    if version not in versions:
        return None
    return json.loads((TEMPLATES_DIR / name / f"v{version}.json").read_text())
