"""The one codec of a factor key: ``lib:<id>`` names a library EmissionFactor, ``sup:<id>`` a
tenant's SupplierFactor. Calculations, provenance, the factor pickers and the import's choices
all spell a factor this way."""

from __future__ import annotations

LIBRARY = "lib:"
SUPPLIER = "sup:"


def library_key(factor_id: int) -> str:
    return f"{LIBRARY}{factor_id}"


def supplier_key(supplier_factor_id: int) -> str:
    return f"{SUPPLIER}{supplier_factor_id}"


def factor_key(*, factor_id: int | None, supplier_factor_id: int | None) -> str:
    """The key of a choice (a supplier factor wins); "" when there is none."""
    if supplier_factor_id is not None:
        return supplier_key(supplier_factor_id)
    if factor_id is not None:
        return library_key(factor_id)
    return ""


def parse_factor_key(key: str) -> tuple[int | None, int | None]:
    """``lib:<id>`` / ``sup:<id>`` -> (factor_id, supplier_factor_id); ValueError otherwise."""
    kind, _, number = key.partition(":")
    if kind not in {"lib", "sup"} or not number.isdigit():
        raise ValueError(f"{key!r} is not a factor choice")
    return (int(number), None) if kind == "lib" else (None, int(number))


def is_library_key(key: str) -> bool:
    return key.startswith(LIBRARY)


def is_supplier_key(key: str) -> bool:
    return key.startswith(SUPPLIER)


def factor_key_id(key: str) -> int:
    """The id a library or supplier key names (which table: ``is_library_key``)."""
    return int(key[len(LIBRARY) :])
