"""Run in a child process by reporting.validate: Arelle validates an iXBRL file, or an inline XBRL
report package (.xbri), offline with the given taxonomy packages and answers one JSON object per
file: its log messages by level and the facts it read back (concept, value, unit, dimensions).
Asked for a viewer page (``--viewer OUT SCRIPT_URL``), Arelle's ixbrl-viewer plugin writes it to
OUT from the same loaded report. No Django here: the parent sets the resource limits.

Two ways, one verdict (and one viewer page):

``python -m reporting.arelle_child FILE [--viewer OUT SCRIPT_URL] PACKAGE...`` (cold): one file,
everything loaded for it, in one ``arelleCmdLine``-like run with the plugin.

``python -m reporting.arelle_child --serve SOCKET ENTRY PACKAGE...`` (warm): a server that loads
the taxonomy's DTS from its entry point once and validates it (Arelle checks every schema and
linkbase element of the DTS against XML Schema and compiles every formula then: most of a cold
run's time, and the same for every report on that entry point). Each request, on a Unix socket,
is served by a child forked from it: the child opens the file as a cold run does (a report
package: its checks, then the one iXBRL document it names), loads the report into its own
copy-on-write copy of the loaded DTS, runs Arelle's whole validation (DTS, instance, dimensions,
calculations, formulas), has the ixbrl-viewer plugin write the viewer page when asked (the
plugin's own steps, as its command-line hooks call them after a run), answers and exits, so no
report leaves anything behind for the next. What the taxonomy's own validation found outside the
formulas (nothing, for the ESRS package) is added to every answer, since a child does not check an
element Arelle has already checked. tests/test_report_validation compares both ways on a valid and
an invalid report, as an iXBRL document and as a report package with its viewer page.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import sys
from typing import Any

# Messages of the formula linkbase (EFRAG's "message:ea_..." existence assertions and any other
# assertion's message) depend on the report's facts; the server's own run has none.
FORMULA_CODE_PREFIXES = ("message:", "formula", "xbrlfe:", "xbrlve:", "xfie:")
# Fact indexes Arelle builds on first use; the server's run built them over no facts.
_FACT_CACHES = (
    "_factsByQname",
    "_factsByLocalName",
    "_factsByDatatype",
    "_factsByPeriodType",
    "_factsByDimQname",
    "_nonNilFactsInInstance",
)


def _options(
    entry: str,
    packages: list[str],
    *,
    validate: bool = True,
    viewer: str = "",
    script_url: str = "",
) -> Any:
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
    return RuntimeOptions(
        entrypointFile=entry,
        packages=packages,
        validate=validate,
        internetConnectivity="offline",
        keepOpen=True,
        disablePersistentConfig=True,
        **extra,
    )


def _log(session: Any) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = json.loads(session.get_logs("json", clear_logs=True) or "{}").get(
        "log", []
    )
    return log


def _levels(log: list[dict[str, Any]]) -> dict[str, list[str]]:
    levels: dict[str, list[str]] = {}
    for entry in log:
        level = str(entry.get("level", "info")).lower()
        text = entry.get("message", {}).get("text", "") if isinstance(entry, dict) else ""
        levels.setdefault(level, []).append(f"[{entry.get('code', '')}] {text}"[:500])
    return levels


def _facts(models: list[Any]) -> list[dict[str, Any]]:
    facts = []
    for model in models:
        for fact in model.facts:
            context = fact.context
            dims = {}
            if context is not None:
                dims = {
                    str(dim): str(member.memberQname) for dim, member in context.qnameDims.items()
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
    return facts


def run(path: str, packages: list[str], viewer: str = "", script_url: str = "") -> dict[str, Any]:
    """Cold: load and validate one file with everything it needs (and write its viewer page)."""
    from arelle.api.Session import Session

    with Session() as session:
        session.run(
            _options(path, packages, viewer=viewer, script_url=script_url),
            logFileName="logToBuffer",
        )
        log = _log(session)
        facts = _facts(session.get_models())
    return {"levels": _levels(log), "facts": facts}


# ---- warm -----------------------------------------------------------------------------------


def _validate_in_fork(
    session: Any, dts: Any, path: str, viewer: str = "", script_url: str = ""
) -> dict[str, Any]:
    """In a child forked from the server: the file opened as ``arelleCmdLine --validate`` opens it
    (a report package: its file source checks, then its one iXBRL document selected in it), that
    document loaded into the (copied) DTS and validated (Validate.validate), then the viewer page
    written as the ixbrl-viewer plugin's hooks write it (CntlrCmdLine.Xbrl.Run, Filing.End)."""
    from arelle import ModelDocument, Validate
    from arelle.ModelXbrl import loadSchemalocatedSchemas
    from arelle.utils.EntryPointDetection import parseEntrypointFileInput
    from arelle.ValidateFileSource import ValidateFileSource

    cntlr = session._cntlr
    for name in _FACT_CACHES:
        with contextlib.suppress(AttributeError):
            delattr(dts, name)
    _log(session)  # the server's own messages are not this report's
    parsed = parseEntrypointFileInput(cntlr, path)
    entries = [e["file"] for e in parsed.entrypointFiles if isinstance(e, dict) and "file" in e]
    if not parsed.success or parsed.filesource is None or len(entries) != 1:
        # The parent sends only files with one iXBRL document (it checked); anything else is
        # for a cold run.
        raise ValueError(f"{len(entries)} entry points in the file, not one")
    filesource = parsed.filesource
    ValidateFileSource(cntlr, filesource).validate(None, None)
    if filesource.isArchive:
        filesource.select(entries[0])
    dts.fileSource = filesource  # the report's documents are read from it (in the package)
    # As in a cold run, no model document while the entry loads: Arelle then names the files in
    # its messages relative to the report (entryLoadingUrl), not to the server's entry point.
    dts.modelDocument = None
    document = ModelDocument.load(dts, entries[0], isEntry=True)
    if document is None:
        return {"levels": _levels(_log(session)), "facts": []}
    dts.modelDocument = document
    loadSchemalocatedSchemas(dts)
    Validate.validate(dts)
    if viewer:
        _write_viewer(cntlr, dts, viewer, script_url)
    return {"levels": _levels(_log(session)), "facts": _facts([dts])}


def _write_viewer(cntlr: Any, model: Any, viewer: str, script_url: str) -> None:
    """What the plugin's command-line hooks do with the options ``run`` gives it (no stub viewer,
    its command line's default features, no validation messages, the script not copied)."""
    from iXBRLViewerPlugin import generateViewer, pluginData, processModel
    from iXBRLViewerPlugin.constants import FEATURE_CONFIGS
    from iXBRLViewerPlugin.iXBRLViewer import IXBRLViewerBuilder

    # getFeaturesFromOptions on options holding the command line's defaults
    features = {c.key: c.cliDefault for c in FEATURE_CONFIGS if c.cliDefault is not None}
    pluginData(cntlr).builder = IXBRLViewerBuilder(cntlr, useStubViewer=False, features=features)
    processModel(cntlr, model)
    generateViewer(cntlr, viewer, viewerURL=script_url, copyScript=False)


def _check_dts(dts: Any) -> list[dict[str, Any]]:
    """The loaded DTS validated without its formulas (no report's facts to run them on), then its
    formulas compiled, not run: every element of the taxonomy checked and every XPath expression
    parsed once, and no evaluation state left for the children."""
    from arelle.formula import ValidateFormula
    from arelle.ValidateXbrl import ValidateXbrl

    validator = ValidateXbrl(dts)
    parameters = dts.modelManager.formulaOptions.typedParameters(dts.prefixedNamespaces)
    has_formulae = dts.hasFormulae
    dts.hasFormulae = False
    try:
        validator.validate(dts, parameters)
    finally:
        dts.hasFormulae = has_formulae
    if has_formulae:
        ValidateFormula.validate(validator, compileOnly=True)
    validator.close()
    return []


def _serve_one(conn: socket.socket, session: Any, dts: Any, taxonomy: dict[str, list[str]]) -> None:
    """A forked child: one request ({"path", "cpu_seconds", "viewer", "script_url"}), one answer."""
    status = 0
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        try:
            request = json.loads(conn.makefile("rb").readline())
            cpu = int(request["cpu_seconds"])
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
            result = _validate_in_fork(
                session,
                dts,
                request["path"],
                request.get("viewer", ""),
                request.get("script_url", ""),
            )
            usage = resource.getrusage(resource.RUSAGE_SELF)  # this child's, since its fork
            result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
            for level, messages in taxonomy.items():
                result["levels"].setdefault(level, []).extend(messages)
            answer = json.dumps(result).encode()
        except MemoryError:
            answer = json.dumps({"failed": "memory"}).encode()
        except Exception as exc:  # said to the parent, which reports validation unavailable
            answer = json.dumps({"failed": f"{type(exc).__name__}: {exc}"[:500]}).encode()
        conn.sendall(answer)
    except BaseException:
        status = 4
    finally:
        with contextlib.suppress(OSError):
            conn.close()
        os._exit(status)


def serve(socket_path: str, entry: str, packages: list[str], idle_seconds: float) -> None:
    """Load and validate the DTS once, then fork a child per connection until idle."""
    from arelle.api.Session import Session

    session = Session()
    session.run(_options(entry, packages, validate=False), logFileName="logToBuffer")
    dts = session.get_models()[0]
    log = _log(session) + _check_dts(dts) + _log(session)
    taxonomy = _levels(
        [
            e
            for e in log
            if str(e.get("level", "")).lower() in ("error", "fatal", "critical", "warning")
            and not str(e.get("code", "")).startswith(FORMULA_CODE_PREFIXES)
        ]
    )
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(8)
    listener.settimeout(idle_seconds)
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                break
            pid = os.fork()
            if pid == 0:
                listener.close()
                _serve_one(conn, session, dts, taxonomy)
            conn.close()
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--serve":
        socket_path, entry, idle, *packages = args[1:]
        serve(socket_path, entry, packages, float(idle))
        return
    path, *packages = args
    viewer = script_url = ""
    if packages[:1] == ["--viewer"]:
        viewer, script_url, *packages = packages[1:]
    json.dump(run(path, packages, viewer, script_url), sys.stdout)


if __name__ == "__main__":
    main()
