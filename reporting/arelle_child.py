"""Run in a child process by reporting.validate (``python -m reporting.arelle_child``): Arelle
loads one iXBRL file offline with the given taxonomy packages, validates it, and prints one JSON
object: its log messages by level and the facts it read back (concept, value, unit, dimensions).

No Django here: the parent sets the resource limits and reads stdout."""

from __future__ import annotations

import json
import sys
from typing import Any


def run(path: str, packages: list[str], viewer: str = "", script_url: str = "") -> dict[str, Any]:
    from arelle.api.Session import Session
    from arelle.RuntimeOptions import RuntimeOptions

    extra: dict[str, Any] = {}
    if viewer:
        # Arelle's ixbrl-viewer plugin writes the viewer page (the report with the viewer's data
        # and a script tag pointing at script_url); the script itself is served by the app.
        extra = {
            "plugins": "ixbrl-viewer",
            "pluginOptions": {
                "saveViewerDest": viewer,
                "viewerURL": script_url,
                "viewerNoCopyScript": True,
            },
        }
    options = RuntimeOptions(
        entrypointFile=path,
        packages=packages,
        validate=True,
        internetConnectivity="offline",
        keepOpen=True,
        disablePersistentConfig=True,
        **extra,
    )
    with Session() as session:
        session.run(options, logFileName="logToBuffer")
        log = json.loads(session.get_logs("json") or "{}").get("log", [])
        facts = []
        for model in session.get_models():
            for fact in model.facts:
                context = fact.context
                dims = {}
                if context is not None:
                    dims = {
                        str(dim): str(member.memberQname)
                        for dim, member in context.qnameDims.items()
                    }
                facts.append(
                    {
                        "concept": str(fact.qname),
                        "value": fact.value,
                        "unit": fact.unitID,
                        "decimals": fact.decimals,
                        "dimensions": dims,
                        "entity": list(context.entityIdentifier) if context is not None else None,
                    }
                )
    levels: dict[str, list[str]] = {}
    for entry in log:
        level = str(entry.get("level", "info")).lower()
        text = entry.get("message", {}).get("text", "") if isinstance(entry, dict) else ""
        levels.setdefault(level, []).append(f"[{entry.get('code', '')}] {text}"[:500])
    return {"levels": levels, "facts": facts}


def main() -> None:
    """argv: PATH [--viewer OUT SCRIPT_URL] PACKAGE..."""
    path, *rest = sys.argv[1:]
    viewer = script_url = ""
    if rest[:1] == ["--viewer"]:
        viewer, script_url, *rest = rest[1:]
    json.dump(run(path, rest, viewer, script_url), sys.stdout)


if __name__ == "__main__":
    main()
