"""The import pipeline: a supplier's spreadsheet -> validated, normalised activity rows.

Pure Python over pandas/pyarrow (no Django): views, RQ jobs and the ``import_activities``
command call these functions and store what they return.

Typical flow
------------
::

    from imports.pipeline import (read_upload, suggest_mapping, validate, preview,
                                  revalidate_row, apply_fixes, replace_value, export_invalid_rows)

    read = read_upload(path_or_bytes_or_file, filename="Verbrauch 2024.xlsx",
                       max_bytes=settings.IMPORT_MAX_BYTES,
                       sheet=mapping.options.sheet, header_row=mapping.options.header_row)
    # read.frame: text cells, index = spreadsheet row numbers; read.sheets, read.skipped,
    # read.header_row, read.encoding, read.delimiter, read.sha256, read.metadata()

    suggestion = suggest_mapping(read.headers, read.frame.head(200))
    # suggestion.mapping (a Mapping), .suggestions (confidence + reason per field),
    # .signature (look up a saved template: Mapping.from_dict(template.data))

    shown = preview(read.frame, mapping, n=10, native_numbers=read.native_numbers)
    result = validate(read.frame, mapping, native_numbers=read.native_numbers)
    # result.data (normalised columns), result.valid (bool per row), result.errors
    # (row, column, field, value, code, message, suggestion), result.summary(),
    # result.error_summary(), result.detected_options()

    check = revalidate_row(read.frame, mapping, row, fixes={"Menge": "12,5"},
                           detected=result.detected_options(),
                           native_numbers=read.native_numbers)  # one row's work
    frame, natives = apply_fixes(read.frame, stored_fixes, read.native_numbers)  # at commit
    frame, n = replace_value(frame, "Einheit", "Fass", "L")   # "apply to all N rows"
    data = export_invalid_rows(frame, result, fmt="xlsx")       # bytes, formula-escaped

Errors
------
A file, sheet or mapping that cannot be used raises :class:`PipelineError` (``code``,
``message`` for the user, ``details``; ``to_dict()``). Cell problems never raise: they are rows
of ``ValidationResult.errors``. Neither ever surfaces as a traceback.

Mapping files (CLI ``--mapping FILE.yml``): see :mod:`imports.pipeline.mapping` for the format;
``load_mapping_file(path)`` reads one, ``dump_mapping_yaml(mapping)`` writes one.

Untrusted files are read with ``isolate.read_upload_isolated(path, filename=..., limits=
ChildLimits(...))``: the same reader in a child process under a memory, CPU and wall-clock limit
(the web and worker processes never parse a file themselves).

Modules: ``read`` (files -> text cells, size/zip-bomb/XML-entity guards, row/column/cell/blank-run
limits checked from the used range before allocating), ``isolate`` (the child process), ``detect`` (header
row, blank and totals rows), ``mapping`` (fields, synonyms, suggestions, signatures, YAML),
``normalise`` (numbers, dates, texts, codes per column), ``validate`` (rules, preview, fixes),
``export`` (invalid rows as CSV/XLSX, escaped against formula injection).
"""

from .detect import SkippedRow, detect_header_row, find_skipped_rows
from .errors import ERROR_COLUMNS, PipelineError
from .export import escape_formula, export_invalid_rows
from .mapping import (
    FIELD_LABELS,
    FIELDS,
    FieldSuggestion,
    Mapping,
    MappingOptions,
    MappingSuggestion,
    RowFilter,
    dump_mapping_yaml,
    filter_candidates,
    filter_rows,
    header_signature,
    load_mapping_file,
    suggest_mapping,
)
from .read import DEFAULT_MAX_BYTES, ReadResult, read_upload
from .validate import (
    RowCheck,
    ValidationResult,
    apply_fixes,
    count_value,
    preview,
    replace_value,
    revalidate_row,
    validate,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ERROR_COLUMNS",
    "FIELDS",
    "FIELD_LABELS",
    "FieldSuggestion",
    "Mapping",
    "MappingOptions",
    "MappingSuggestion",
    "PipelineError",
    "ReadResult",
    "RowCheck",
    "RowFilter",
    "SkippedRow",
    "ValidationResult",
    "apply_fixes",
    "count_value",
    "detect_header_row",
    "dump_mapping_yaml",
    "escape_formula",
    "export_invalid_rows",
    "filter_candidates",
    "filter_rows",
    "find_skipped_rows",
    "header_signature",
    "load_mapping_file",
    "preview",
    "read_upload",
    "replace_value",
    "revalidate_row",
    "suggest_mapping",
    "validate",
]
