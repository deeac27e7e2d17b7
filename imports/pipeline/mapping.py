"""Column mapping: which of the user's columns feeds which target field, plus constants and options.

A :class:`Mapping` is plain data (``to_dict()`` / ``Mapping.from_dict()``, JSON- and
YAML-friendly), so the wizard stores it in the database and the CLI reads it from a YAML file
(:func:`load_mapping_file`). :func:`suggest_mapping` proposes one from the header names (English,
German, French, Spanish, Italian, Dutch) with a confidence and a reason per field, and
:func:`header_signature` fingerprints a header set so a saved template is re-applied when the same
columns come back.

YAML mapping file (version 1)::

    version: 1                  # optional; 1 is the only version
    name: Monthly fuel feed     # optional, informative
    columns:                    # target field: header text exactly as in the file
      date: Datum
      activity: Bezeichnung
      quantity: Menge
      unit: Einheit
      site: Werk
    constants:                  # target field: one value for every row
      currency: EUR
      country: DE
    options:                    # all optional; detected from the values when absent
      decimal: ","              # "," or "."; or per field: {quantity: ",", amount: "."}
      date_order: DMY           # DMY, MDY or YMD; or per field: {date: DMY}
      sheet: Verbrauch          # workbook sheet to read (default: the first with data)
      header_row: 3             # spreadsheet row number of the header (default: detected)
      correction_words: [Storno]  # extra words in notes that mark a correction row
    filter:                     # optional: which rows of the file to import at all
      include:                  # keep only rows whose cell is one of these (per column)
        Read Type: [Active Import Interval (kWh)]
      exclude:                  # and drop rows whose cell is one of these
        Meter: ["0000"]

Rows left out by the filter are counted as excluded, never as errors. Values are compared
trimmed and case-insensitively; with several include columns a row must match each of them.

A field may be mapped to a column or given a constant, not both. A row needs a date (or a period
start and end), an activity, and a quantity with its unit or an amount with its currency.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from rapidfuzz import fuzz, process

from .errors import PipelineError

#: Target fields, in the order the wizard shows them.
FIELDS: tuple[str, ...] = (
    "date",
    "period_start",
    "period_end",
    "activity",
    "quantity",
    "unit",
    "amount",
    "currency",
    "site",
    "supplier",
    "country",
    "scope",
    "category",
    "notes",
    "correction",
    "data_quality",
)

FIELD_LABELS: dict[str, str] = {
    "date": "Date",
    "period_start": "Period start",
    "period_end": "Period end",
    "activity": "Activity description",
    "quantity": "Quantity",
    "unit": "Unit",
    "amount": "Amount",
    "currency": "Currency",
    "site": "Site",
    "supplier": "Supplier",
    "country": "Country",
    "scope": "Scope",
    "category": "Scope 3 category",
    "notes": "Notes",
    "correction": "Correction flag",
    "data_quality": "Data quality (metered, invoiced, estimated, spend-based)",
}

NUMBER_FIELDS = ("quantity", "amount")
DATE_FIELDS = ("date", "period_start", "period_end")
DECIMAL_CHOICES = (",", ".")
DATE_ORDERS = ("DMY", "MDY", "YMD")

# Header words per field and language. Matching is on normalised text (lower case, accents
# removed, punctuation as spaces), so "Qté." matches "qte" and "Währung" matches "wahrung".
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "date": {
        "en": [
            "date",
            "posting date",
            "transaction date",
            "invoice date",
            "delivery date",
            "booking date",
            "reading date",
            "document date",
            "day",
            "activity date",
        ],
        "de": [
            "datum",
            "belegdatum",
            "buchungsdatum",
            "rechnungsdatum",
            "lieferdatum",
            "leistungsdatum",
            "ablesedatum",
            "tag",
            "stichtag",
        ],
        "fr": [
            "date",
            "date de facture",
            "date de livraison",
            "date comptable",
            "jour",
            "date d operation",
        ],
        "es": [
            "fecha",
            "fecha factura",
            "fecha de factura",
            "fecha de entrega",
            "dia",
            "fecha contable",
        ],
        "it": ["data", "data fattura", "data consegna", "data documento", "giorno"],
        "nl": ["datum", "factuurdatum", "leverdatum", "boekingsdatum", "dag"],
    },
    "period_start": {
        "en": [
            "period start",
            "start date",
            "from",
            "start",
            "date from",
            "valid from",
            "from date",
            "period from",
            "billing start",
        ],
        "de": [
            "von",
            "beginn",
            "zeitraum von",
            "periode von",
            "startdatum",
            "abrechnungsbeginn",
            "anfangsdatum",
            "ab",
            "von datum",
        ],
        "fr": ["debut", "date de debut", "du", "debut de periode", "periode du"],
        "es": ["desde", "fecha inicio", "inicio", "fecha de inicio", "periodo desde"],
        "it": ["dal", "data inizio", "inizio periodo", "inizio", "periodo dal"],
        "nl": ["van", "begindatum", "startdatum", "periode van", "vanaf"],
    },
    "period_end": {
        "en": [
            "period end",
            "end date",
            "to",
            "end",
            "date to",
            "valid to",
            "until",
            "to date",
            "period to",
            "billing end",
        ],
        "de": [
            "bis",
            "ende",
            "zeitraum bis",
            "periode bis",
            "enddatum",
            "abrechnungsende",
            "bis datum",
        ],
        "fr": ["fin", "date de fin", "au", "fin de periode", "periode au"],
        "es": ["hasta", "fecha fin", "fin", "fecha de fin", "periodo hasta"],
        "it": ["al", "data fine", "fine periodo", "fine", "periodo al"],
        "nl": ["tot", "einddatum", "periode tot", "tot en met"],
    },
    "activity": {
        "en": [
            "activity",
            "description",
            "activity description",
            "item",
            "product",
            "material",
            "fuel",
            "fuel type",
            "energy source",
            "service",
            "article",
            "text",
            "consumption type",
            "cost type",
            "item description",
            "type",
        ],
        "de": [
            "bezeichnung",
            "beschreibung",
            "tatigkeit",
            "aktivitat",
            "artikel",
            "material",
            "materialbezeichnung",
            "artikelbezeichnung",
            "produkt",
            "leistung",
            "kraftstoff",
            "energietrager",
            "brennstoff",
            "buchungstext",
            "text",
            "kostenart",
            "position",
            "verbrauchsart",
            "art",
        ],
        "fr": [
            "activite",
            "description",
            "libelle",
            "designation",
            "article",
            "produit",
            "carburant",
            "combustible",
            "source d energie",
            "prestation",
            "type",
        ],
        "es": [
            "actividad",
            "descripcion",
            "concepto",
            "articulo",
            "producto",
            "combustible",
            "material",
            "servicio",
            "tipo",
        ],
        "it": [
            "attivita",
            "descrizione",
            "articolo",
            "prodotto",
            "voce",
            "carburante",
            "combustibile",
            "servizio",
            "tipo",
        ],
        "nl": [
            "activiteit",
            "omschrijving",
            "beschrijving",
            "artikel",
            "product",
            "brandstof",
            "energiedrager",
            "materiaal",
            "dienst",
            "soort",
        ],
    },
    "quantity": {
        "en": [
            "quantity",
            "qty",
            "consumption",
            "volume",
            "usage",
            "amount used",
            "quantity consumed",
            "units consumed",
            "consumed",
            "value",
        ],
        "de": [
            "menge",
            "anzahl",
            "verbrauch",
            "stuckzahl",
            "liefermenge",
            "verbrauchsmenge",
            "wert",
            "bezugsmenge",
        ],
        "fr": ["quantite", "qte", "consommation", "volume", "valeur"],
        "es": ["cantidad", "cant", "consumo", "volumen", "valor"],
        "it": ["quantita", "qta", "consumo", "volume", "valore"],
        "nl": ["hoeveelheid", "aantal", "verbruik", "volume", "waarde"],
    },
    "unit": {
        "en": ["unit", "uom", "unit of measure", "units", "unit of measurement"],
        "de": ["einheit", "me", "mengeneinheit", "masseinheit", "bme", "basismengeneinheit"],
        "fr": ["unite", "unite de mesure", "udm"],
        "es": ["unidad", "unidad de medida", "ud", "udm"],
        "it": ["unita", "unita di misura", "um", "udm"],
        "nl": ["eenheid", "maateenheid"],
    },
    "amount": {
        "en": [
            "amount",
            "cost",
            "costs",
            "spend",
            "net amount",
            "total cost",
            "invoice amount",
            "net value",
            "expenditure",
            "expense",
            "spend amount",
            "gross amount",
        ],
        "de": [
            "betrag",
            "kosten",
            "nettobetrag",
            "rechnungsbetrag",
            "bruttobetrag",
            "ausgaben",
            "nettowert",
            "betrag netto",
        ],
        "fr": ["montant", "cout", "couts", "montant ht", "depense", "depenses", "montant ttc"],
        "es": ["importe", "coste", "costo", "gasto", "monto", "importe neto"],
        "it": ["importo", "costo", "costi", "spesa", "importo netto"],
        "nl": ["bedrag", "kosten", "uitgaven", "netto bedrag", "factuurbedrag"],
    },
    "currency": {
        "en": ["currency", "curr", "ccy", "currency code", "cur"],
        "de": ["wahrung", "whrg", "wkz", "wahrungsschlussel", "wahrungscode"],
        "fr": ["devise", "monnaie", "code devise"],
        "es": ["moneda", "divisa"],
        "it": ["valuta", "divisa"],
        "nl": ["valuta", "munteenheid", "munt"],
    },
    "site": {
        "en": ["site", "location", "facility", "plant", "branch", "building", "site name"],
        "de": [
            "standort",
            "werk",
            "niederlassung",
            "gebaude",
            "filiale",
            "liegenschaft",
            "betriebsstatte",
        ],
        "fr": ["site", "etablissement", "usine", "lieu", "emplacement"],
        "es": ["sede", "ubicacion", "planta", "instalacion", "centro"],
        "it": ["sede", "sito", "stabilimento", "impianto", "ubicazione"],
        "nl": ["locatie", "vestiging", "fabriek", "gebouw"],
    },
    "supplier": {
        "en": ["supplier", "vendor", "provider", "creditor", "supplier name", "vendor name"],
        "de": ["lieferant", "kreditor", "anbieter", "versorger", "lieferantenname"],
        "fr": ["fournisseur", "prestataire"],
        "es": ["proveedor"],
        "it": ["fornitore"],
        "nl": ["leverancier"],
    },
    "country": {
        "en": ["country", "country code"],
        "de": ["land", "landercode", "staat"],
        "fr": ["pays", "code pays"],
        "es": ["pais", "codigo de pais"],
        "it": ["paese", "nazione", "stato"],
        "nl": ["land", "landcode"],
    },
    "scope": {
        "en": ["scope", "ghg scope"],
        "de": ["bereich", "emissionsbereich"],
        "fr": ["perimetre"],
        "es": ["alcance"],
        "it": ["ambito"],
        "nl": ["reikwijdte"],
    },
    "category": {
        "en": ["category", "scope 3 category", "ghg category"],
        "de": ["kategorie", "scope 3 kategorie"],
        "fr": ["categorie", "categorie scope 3"],
        "es": ["categoria", "categoria alcance 3"],
        "it": ["categoria"],
        "nl": ["categorie"],
    },
    "notes": {
        "en": ["notes", "note", "comment", "comments", "remark", "remarks", "memo"],
        "de": ["bemerkung", "bemerkungen", "kommentar", "notiz", "anmerkung", "hinweis"],
        "fr": ["remarque", "remarques", "commentaire", "commentaires", "note", "notes"],
        "es": ["nota", "notas", "comentario", "comentarios", "observaciones"],
        "it": ["note", "commento", "commenti", "osservazioni"],
        "nl": ["opmerking", "opmerkingen", "notitie", "commentaar"],
    },
    "correction": {
        "en": ["correction", "is correction", "credit note", "reversal"],
        "de": ["korrektur", "storno", "gutschrift"],
        "fr": ["correction", "avoir"],
        "es": ["correccion", "rectificacion"],
        "it": ["correzione", "rettifica"],
        "nl": ["correctie", "creditnota"],
    },
    "data_quality": {
        "en": ["data quality", "data quality tier", "data source type"],
        "de": ["datenqualitat", "datenqualitaet", "datenherkunft"],
        "fr": ["qualite des donnees"],
        "es": ["calidad de datos"],
        "it": ["qualita dei dati"],
        "nl": ["datakwaliteit"],
    },
}

LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
}

# Headers that contain a synonym but mean something else ("Unit price" is neither a unit nor an
# amount; "Kostenstelle" is a cost centre).
_NOT_A_FIELD_RE = re.compile(
    r"\b(unit price|price per|per unit|einzelpreis|stuckpreis|preis pro|prix unitaire|"
    r"precio unitario|prezzo unitario|eenheidsprijs|stuksprijs|kostenstelle|cost cent(er|re)|"
    r"centre de cout|centro de coste|centro di costo|kostenplaats|id|nr|no|number|nummer|"
    r"numero|code)\b"
)

_CURRENCY_SYMBOLS = {
    "€": "EUR",
    "$": "USD",
    "us$": "USD",
    "£": "GBP",
    "fr": "CHF",
    "fr.": "CHF",
    "chf": "CHF",
    "¥": "JPY",
    "kr": "SEK",
    "zł": "PLN",
    "zl": "PLN",
    "kč": "CZK",
}

_HINT_RE = re.compile(
    r"[\(\[]\s*([^\)\]]{1,20}?)\s*[\)\]]|\bin\s+(\S{1,12})\s*$|/\s*(\S{1,12})\s*$", re.IGNORECASE
)


def normalise_header(text: object) -> str:
    """Header text as matched against the synonyms: lower case, no accents, no bracketed hints,
    punctuation as single spaces (``"Qté. (kg)"`` -> ``"qte"``)."""
    t = unicodedata.normalize("NFKD", str(text)).casefold()
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    t = re.sub(r"[\(\[\{][^\)\]\}]*[\)\]\}]", " ", t)
    t = re.sub(r"\s(in|en|/)\s+\S+$", " ", t) if re.search(r"\s(in|en|/)\s+\S+$", t) else t
    return re.sub(r"[^0-9a-z]+", " ", t).strip()


def header_signature(headers: Iterable[object]) -> str:
    """Stable fingerprint (sha256 hex) of a header set: the same columns in any order, with any
    case or spacing, give the same signature; a renamed, added or removed column changes it."""
    names = sorted(
        {
            re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(h))).strip().casefold()
            for h in headers
            if h is not None and str(h).strip()
        }
    )
    return hashlib.sha256("\x1f".join(names).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _synonym_index() -> tuple[list[str], list[tuple[str, str, str]]]:
    """Flattened synonyms: normalised text, and (field, language, original) for each."""
    keys: list[str] = []
    meta: list[tuple[str, str, str]] = []
    for fld, by_lang in SYNONYMS.items():
        for lang, words in by_lang.items():
            for word in words:
                keys.append(normalise_header(word))
                meta.append((fld, lang, word))
    return keys, meta


@lru_cache(maxsize=4096)
def _field_scores(header: str) -> dict[str, tuple[float, str]]:
    """Best (confidence, reason) per field for one header name."""
    norm = normalise_header(header)
    if not norm:
        return {}
    keys, meta = _synonym_index()
    best: dict[str, tuple[float, str]] = {}

    def offer(fld: str, score: float, reason: str) -> None:
        if score > best.get(fld, (0.0, ""))[0]:
            best[fld] = (round(min(score, 1.0), 3), reason)

    blocked = bool(_NOT_A_FIELD_RE.search(norm))
    padded = f" {norm} "
    for key, (fld, lang, word) in zip(keys, meta, strict=True):
        language = LANGUAGE_NAMES[lang]
        if norm == key:
            offer(fld, 1.0, f"'{header}' is the {language} word '{word}'")
        elif blocked:
            continue
        elif len(key) >= 3 and f" {key} " in padded:
            offer(
                fld,
                0.8 + 0.1 * len(key) / len(norm),
                f"'{header}' contains the {language} word '{word}'",
            )
        elif len(key) >= 4 and " " not in norm and norm.endswith(key):
            offer(fld, 0.75, f"'{header}' is a compound of the {language} word '{word}'")
    if len(norm) >= 4 and not blocked:
        found = process.extractOne(norm, keys, scorer=fuzz.ratio, score_cutoff=82)
        if found is not None:
            _, score, idx = found
            fld, lang, word = meta[idx]
            offer(
                fld,
                0.6 + (score - 82) / 18 * 0.25,
                f"'{header}' looks like the {LANGUAGE_NAMES[lang]} word '{word}' ({score:.0f}% similar)",
            )
    return best


def header_field_score(header: str) -> float:
    """How strongly a header names any target field (0-1); used to find the header row."""
    scores = _field_scores(header)
    return max((s for s, _ in scores.values()), default=0.0)


@dataclass
class MappingOptions:
    """How values are read. ``decimal`` and ``date_order`` take one value for every number/date
    column or a dict per field; ``None`` means detect from the column's values."""

    decimal: str | dict[str, str] | None = None
    date_order: str | dict[str, str] | None = None
    sheet: str | None = None
    header_row: int | None = None
    correction_words: list[str] = field(default_factory=list)

    def decimal_for(self, fld: str) -> str | None:
        """The decimal separator set for ``fld``, or None to detect it."""
        return self.decimal.get(fld) if isinstance(self.decimal, dict) else self.decimal

    def date_order_for(self, fld: str) -> str | None:
        """The date order set for ``fld``, or None to detect it."""
        return self.date_order.get(fld) if isinstance(self.date_order, dict) else self.date_order

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the unset options."""
        out: dict[str, Any] = {}
        for key in ("decimal", "date_order", "sheet", "header_row"):
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if isinstance(value, dict) else value
        if self.correction_words:
            out["correction_words"] = list(self.correction_words)
        return out

    def merged(self, other: MappingOptions | MappingABC[str, Any] | None) -> MappingOptions:
        """These options with ``other``'s set values on top (per-field dicts merged)."""
        if other is None:
            return self
        over = other if isinstance(other, MappingOptions) else _options_from_dict(dict(other))
        result = MappingOptions(**self.to_dict())
        result.correction_words = list(self.correction_words)
        for key in ("decimal", "date_order"):
            mine, theirs = getattr(self, key), getattr(over, key)
            if isinstance(theirs, dict):
                base = (
                    dict(mine)
                    if isinstance(mine, dict)
                    else (
                        dict.fromkeys(NUMBER_FIELDS if key == "decimal" else DATE_FIELDS, mine)
                        if mine
                        else {}
                    )
                )
                base.update(theirs)
                setattr(result, key, base)
            elif theirs is not None:
                setattr(result, key, theirs)
        for key in ("sheet", "header_row"):
            if getattr(over, key) is not None:
                setattr(result, key, getattr(over, key))
        result.correction_words = [*self.correction_words, *over.correction_words]
        return result


def _cell_key(value: object) -> str:
    return str(value).strip().casefold()


@dataclass
class RowFilter:
    """Which rows of a file are imported: ``include`` keeps only rows whose cell (per column)
    is one of the listed values, ``exclude`` then drops rows whose cell is one of its values."""

    include: dict[str, list[str]] = field(default_factory=dict)
    exclude: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def columns(self) -> list[str]:
        """The file's columns the filter reads."""
        return list(dict.fromkeys([*self.include, *self.exclude]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the empty halves."""
        out: dict[str, Any] = {}
        if self.include:
            out["include"] = {c: list(v) for c, v in self.include.items()}
        if self.exclude:
            out["exclude"] = {c: list(v) for c, v in self.exclude.items()}
        return out

    def keep_mask(self, frame: pd.DataFrame) -> np.ndarray:
        """True for each row of ``frame`` the filter keeps (columns must exist)."""
        keep = np.ones(len(frame), dtype=bool)
        for half, wanted in ((self.include, True), (self.exclude, False)):
            for column, values in half.items():
                cells = frame[column].fillna("").astype(str).str.strip().str.casefold()
                hit = cells.isin({_cell_key(v) for v in values}).to_numpy(dtype=bool)
                keep &= hit if wanted else ~hit
        return keep


@dataclass
class FilteredRows:
    """A frame with the filter's rows left out, its workbook-number marks, and how many left."""

    frame: pd.DataFrame
    native_numbers: dict[str, np.ndarray]
    excluded: int


def filter_rows(
    frame: pd.DataFrame,
    row_filter: RowFilter | None,
    native_numbers: MappingABC[str, np.ndarray] | None = None,
) -> FilteredRows:
    """The rows ``row_filter`` keeps (index = spreadsheet row numbers, kept as they were), the
    matching ``native_numbers`` marks, and the count of excluded rows. Raises
    ``PipelineError("mapping_column_missing")`` when the filter names a column the file lacks."""
    natives = dict(native_numbers or {})
    if not row_filter:
        return FilteredRows(frame, natives, 0)
    absent = [c for c in row_filter.columns() if c not in frame.columns]
    if absent:
        raise PipelineError(
            "mapping_column_missing",
            f"The row filter reads the column {', '.join(repr(c) for c in absent)}, which the "
            f"file does not have. Its columns are: {', '.join(map(str, frame.columns))}.",
            missing=absent,
            headers=[str(c) for c in frame.columns],
        )
    keep = row_filter.keep_mask(frame)
    if keep.all():
        return FilteredRows(frame, natives, 0)
    return FilteredRows(
        frame.loc[keep],
        {k: v[keep] for k, v in natives.items()},
        int((~keep).sum()),
    )


def filter_candidates(
    frame: pd.DataFrame,
    *,
    max_values: int = 12,
    max_columns: int = 200,
    sample_rows: int = 5000,
) -> list[tuple[str, list[tuple[str, int]]]]:
    """Columns a row filter can use: those with 2 to ``max_values`` distinct values, some of
    them repeated (a kind of row, such as a meter export's "Read Type", not a date or an amount
    that merely has few rows), each with its values and how many rows hold them, most rows
    first. Columns are picked on the first ``sample_rows`` rows, then counted over all rows."""
    out: list[tuple[str, list[tuple[str, int]]]] = []
    head = frame.head(sample_rows)
    for column in list(frame.columns)[:max_columns]:
        sample = head[column].dropna().astype(str).str.strip()
        sample = sample[sample != ""]
        distinct = sample.nunique()
        if not 2 <= distinct <= max_values or distinct == len(sample):
            continue
        counts = frame[column].dropna().astype(str).str.strip().value_counts()
        counts = counts[counts.index != ""]
        if 2 <= len(counts) <= max_values:
            out.append((str(column), [(str(v), int(n)) for v, n in counts.items()]))
    return out


def _row_filter_from_dict(value: object, source: str) -> RowFilter:
    if value is None:
        return RowFilter()
    if not isinstance(value, dict):
        raise _invalid(source, "filter must be a mapping with include and/or exclude")
    unknown = set(value) - {"include", "exclude"}
    if unknown:
        raise _invalid(
            source,
            f"filter: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            "allowed: include, exclude",
        )
    halves: dict[str, dict[str, list[str]]] = {}
    for half in ("include", "exclude"):
        data = value.get(half)
        out: dict[str, list[str]] = {}
        if data is not None:
            if not isinstance(data, dict):
                raise _invalid(source, f"filter.{half} must be a mapping of column: [values]")
            for column, values in data.items():
                items = values if isinstance(values, list) else [values]
                texts = [
                    str(v).strip()
                    for v in items
                    if v is not None and not isinstance(v, dict | list)
                ]
                if not texts or len(texts) != len(items):
                    raise _invalid(
                        source, f"filter.{half}.{column} must be a value or a list of values"
                    )
                out[str(column)] = texts
        halves[half] = out
    return RowFilter(include=halves["include"], exclude=halves["exclude"])


@dataclass
class Mapping:
    """Target field -> the user's header (``columns``) or a constant value (``constants``),
    plus the reading options and the row filter."""

    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    options: MappingOptions = field(default_factory=MappingOptions)
    name: str | None = None
    row_filter: RowFilter = field(default_factory=RowFilter)

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready form; ``Mapping.from_dict(m.to_dict()) == m``."""
        out: dict[str, Any] = {"version": 1}
        if self.name:
            out["name"] = self.name
        out["columns"] = {f: self.columns[f] for f in FIELDS if f in self.columns}
        out["constants"] = {f: self.constants[f] for f in FIELDS if f in self.constants}
        out["options"] = self.options.to_dict()
        if self.row_filter:
            out["filter"] = self.row_filter.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: object, *, source: str = "mapping") -> Mapping:
        """Build and check a mapping from plain data; raises ``PipelineError("mapping_invalid")``
        naming the offending key."""
        if not isinstance(data, dict):
            raise _invalid(source, "must be a mapping with the keys columns, constants and options")
        unknown = set(data) - {"version", "name", "columns", "constants", "options", "filter"}
        if unknown:
            raise _invalid(
                source,
                f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                "allowed: version, name, columns, constants, options, filter",
            )
        if data.get("version", 1) != 1:
            raise _invalid(source, f"version {data.get('version')!r} is not supported (use 1)")
        columns = _field_dict(data.get("columns"), "columns", source)
        constants = _field_dict(data.get("constants"), "constants", source)
        both = sorted(set(columns) & set(constants), key=FIELDS.index)
        if both:
            raise _invalid(
                source,
                f"field(s) {', '.join(both)} are given both a column and a constant; keep one",
            )
        options_data = data.get("options") or {}
        if not isinstance(options_data, dict):
            raise _invalid(source, "options must be a mapping")
        try:
            options = _options_from_dict(options_data)
        except ValueError as exc:
            raise _invalid(source, str(exc)) from None
        name = data.get("name")
        return cls(
            columns=columns,
            constants=constants,
            options=options,
            name=None if name is None else str(name),
            row_filter=_row_filter_from_dict(data.get("filter"), source),
        )

    def source_of(self, fld: str) -> str | None:
        """How the user sees a field's source: its header, ``"(constant)"``, or None."""
        if fld in self.columns:
            return self.columns[fld]
        if fld in self.constants:
            return f"{FIELD_LABELS[fld]} (constant)"
        return None

    def has(self, fld: str) -> bool:
        """Whether the field is mapped to a column or given a constant."""
        return fld in self.columns or fld in self.constants

    def missing_requirements(self) -> list[str]:
        """What the mapping lacks for a row to be valid, as sentences for the user (empty if
        complete)."""
        missing = []
        if not (self.has("date") or (self.has("period_start") and self.has("period_end"))):
            missing.append("a date column, or a period start and a period end")
        if not self.has("activity"):
            missing.append("an activity description column")
        if not (
            (self.has("quantity") and self.has("unit"))
            or (self.has("amount") and self.has("currency"))
        ):
            missing.append(
                "a quantity with its unit, or an amount with its currency "
                "(a unit or currency can be a constant)"
            )
        return missing

    def check(self, headers: Sequence[str]) -> None:
        """Raise ``PipelineError`` when the mapping is incomplete or names a column the file
        lacks."""
        absent = [(f, c) for f, c in self.columns.items() if c not in set(headers)]
        absent += [("filter", c) for c in self.row_filter.columns() if c not in set(headers)]
        if absent:
            listed = ", ".join(f"'{c}' ({FIELD_LABELS.get(f, 'Row filter')})" for f, c in absent)
            raise PipelineError(
                "mapping_column_missing",
                f"The file has no column {listed}. Its columns are: {', '.join(headers)}.",
                missing=[c for _, c in absent],
                headers=list(headers),
            )
        missing = self.missing_requirements()
        if missing:
            raise PipelineError(
                "mapping_incomplete",
                "The mapping needs " + "; ".join(missing) + ".",
                missing=missing,
            )


def _invalid(source: str, message: str) -> PipelineError:
    return PipelineError("mapping_invalid", f"{source}: {message}", source=source)


def _field_dict(value: object, key: str, source: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(source, f"{key} must be a mapping of field: value")
    out: dict[str, str] = {}
    for fld, item in value.items():
        if fld not in FIELDS:
            raise _invalid(source, f"{key}: unknown field {fld!r}; fields are {', '.join(FIELDS)}")
        if item is None or isinstance(item, dict | list):
            raise _invalid(source, f"{key}.{fld} must be a single text or number")
        text = str(item).strip() if not isinstance(item, bool) else ("yes" if item else "no")
        if not text:
            raise _invalid(source, f"{key}.{fld} is empty")
        out[str(fld)] = text
    return out


def _options_from_dict(data: dict[str, Any]) -> MappingOptions:
    unknown = set(data) - {"decimal", "date_order", "sheet", "header_row", "correction_words"}
    if unknown:
        raise ValueError(
            f"options: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            "allowed: decimal, date_order, sheet, header_row, correction_words"
        )

    def choice(key: str, allowed: tuple[str, ...], fields: tuple[str, ...]) -> Any:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, dict):
            out = {}
            for fld, v in value.items():
                if fld not in fields:
                    raise ValueError(f"options.{key}: {fld!r} is not one of {', '.join(fields)}")
                out[str(fld)] = choice_one(key, v, allowed)
            return out
        return choice_one(key, value, allowed)

    def choice_one(key: str, value: object, allowed: tuple[str, ...]) -> str:
        text = str(value).strip()
        text = text.upper() if key == "date_order" else text
        if text not in allowed:
            raise ValueError(
                f"options.{key} must be one of {', '.join(repr(a) for a in allowed)}, not {value!r}"
            )
        return text

    header_row = data.get("header_row")
    if header_row is not None and (
        not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1
    ):
        raise ValueError("options.header_row must be a row number (1 or more)")
    words = data.get("correction_words") or []
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise ValueError("options.correction_words must be a list of words")
    sheet = data.get("sheet")
    return MappingOptions(
        decimal=choice("decimal", DECIMAL_CHOICES, NUMBER_FIELDS),
        date_order=choice("date_order", DATE_ORDERS, DATE_FIELDS),
        sheet=None if sheet is None else str(sheet),
        header_row=header_row,
        correction_words=[w.strip() for w in words],
    )


def load_mapping_file(path: str | PathLike[str]) -> Mapping:
    """Read a YAML mapping file (format in this module's docstring); raises
    ``PipelineError("mapping_file_invalid" | "mapping_invalid")`` with a message naming the
    problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PipelineError(
            "mapping_file_invalid",
            f"Cannot read the mapping file {p.name}: {exc.strerror or exc}",
            file=p.name,
        ) from None
    except UnicodeDecodeError:
        raise PipelineError(
            "mapping_file_invalid", f"The mapping file {p.name} is not UTF-8 text.", file=p.name
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PipelineError(
            "mapping_file_invalid",
            f"The mapping file {p.name} is not valid YAML{where}.",
            file=p.name,
        ) from None
    return Mapping.from_dict(data, source=p.name)


def dump_mapping_yaml(mapping: Mapping) -> str:
    """The mapping as a YAML mapping file (readable by :func:`load_mapping_file`)."""
    return yaml.safe_dump(mapping.to_dict(), sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class FieldSuggestion:
    """One proposed source for a field: a column or a constant, how sure, and why."""

    field: str
    column: str | None
    constant: str | None
    confidence: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "field": self.field,
            "column": self.column,
            "constant": self.constant,
            "confidence": self.confidence,
            "reason": self.reason,
        }


@dataclass
class MappingSuggestion:
    """The proposed mapping, each field's suggestion, the columns left over, and the header
    signature to look saved templates up by."""

    mapping: Mapping
    suggestions: list[FieldSuggestion]
    unmapped_columns: list[str]
    signature: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "mapping": self.mapping.to_dict(),
            "suggestions": [s.to_dict() for s in self.suggestions],
            "unmapped_columns": list(self.unmapped_columns),
            "signature": self.signature,
        }


_DATE_VALUE_RE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{5}(\.\d+)?|\d{8})(\s.*)?$"
)
_NUMBER_VALUE_RE = re.compile(r"^\s*[-+(\u2212]?\s*\d[\d.,'\u2019 \u00a0]*\)?-?\s*$")


def _share(values: pd.Series, pattern: re.Pattern[str]) -> float | None:
    vals = [str(v) for v in values if isinstance(v, str) and v.strip()][:200]
    if not vals:
        return None
    return sum(1 for v in vals if pattern.match(v)) / len(vals)


def suggest_mapping(
    headers: Sequence[str],
    sample: pd.DataFrame | None = None,
    *,
    min_confidence: float = 0.6,
) -> MappingSuggestion:
    """Propose a mapping from header names (and, when ``sample`` rows are given, their values).

    Each field gets at most one column and each column at most one field, the most confident
    pairs first. Units and currencies written in a header (``"Verbrauch (kWh)"``,
    ``"Betrag in €"``) become constants when the file has no unit or currency column.
    """
    candidates: list[tuple[float, int, str, str, str]] = []
    for col in headers:
        for fld, (score, reason) in _field_scores(str(col)).items():
            if sample is not None and col in sample.columns:
                score, reason = _adjust_by_values(fld, score, reason, sample[col])
            if score >= min_confidence:
                candidates.append((score, -FIELDS.index(fld), fld, col, reason))
    if sample is not None:
        candidates.extend(_value_only_candidates(headers, sample, min_confidence))
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)

    chosen: dict[str, FieldSuggestion] = {}
    used: set[str] = set()
    for score, _, fld, col, reason in candidates:
        if fld in chosen or col in used:
            continue
        chosen[fld] = FieldSuggestion(fld, col, None, score, reason)
        used.add(col)

    mapping = Mapping(columns={f: s.column for f, s in chosen.items() if s.column})
    for fld, target in (("quantity", "unit"), ("amount", "currency")):
        if fld in chosen and target not in chosen:
            hint = _header_hint(str(chosen[fld].column), target)
            if hint:
                reason = f"{FIELD_LABELS[target]} taken from the header '{chosen[fld].column}'"
                chosen[target] = FieldSuggestion(target, None, hint, 0.7, reason)
                mapping.constants[target] = hint
    ordered = [chosen[f] for f in FIELDS if f in chosen]
    return MappingSuggestion(
        mapping=mapping,
        suggestions=ordered,
        unmapped_columns=[h for h in headers if h not in used],
        signature=header_signature(headers),
    )


def _adjust_by_values(fld: str, score: float, reason: str, values: pd.Series) -> tuple[float, str]:
    if fld in DATE_FIELDS:
        share = _share(values, _DATE_VALUE_RE)
        if share is not None and share < 0.5:
            return score * 0.5, reason + "; but its values do not look like dates"
    elif fld in NUMBER_FIELDS:
        share = _share(values, _NUMBER_VALUE_RE)
        if share is not None and share < 0.5:
            return score * 0.5, reason + "; but its values do not look like numbers"
    return score, reason


def _value_only_candidates(
    headers: Sequence[str], sample: pd.DataFrame, min_confidence: float
) -> list[tuple[float, int, str, str, str]]:
    """A column whose values are all dates is a date column whatever its header says."""
    out = []
    for col in headers:
        if col in sample.columns and (_share(sample[col], _DATE_VALUE_RE) or 0) >= 0.9:
            score = max(min_confidence, 0.65)
            out.append(
                (
                    score,
                    -FIELDS.index("date"),
                    "date",
                    col,
                    f"the values of '{col}' look like dates",
                )
            )
    return out


def _header_hint(header: str, target: str) -> str | None:
    """A unit or currency written in a header: "Menge (kWh)" -> kWh, "Betrag in €" -> EUR."""
    m = _HINT_RE.search(header)
    if not m:
        return None
    hint = next(g for g in m.groups() if g).strip()
    currency = _CURRENCY_SYMBOLS.get(hint.casefold()) or (
        hint.upper() if re.fullmatch(r"[A-Za-z]{3}", hint) and _is_currency_code(hint) else None
    )
    if target == "currency":
        return currency
    if currency or not re.fullmatch(r"[^\s\d][^\s]*", hint):
        return None
    from emissions.engine.errors import EngineError
    from emissions.engine.units import canonical_unit

    try:
        canonical_unit(hint)  # only units the engine knows become a suggested constant
    except EngineError:
        return None
    return hint


@lru_cache(maxsize=1)
def _currency_codes() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def _is_currency_code(text: str) -> bool:
    return text.upper() in _currency_codes()
