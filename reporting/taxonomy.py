"""Concept names read from the taxonomy files, never from memory.

ESRS: the EFRAG ESRS Set 1 taxonomy package (a zip) in ``settings.XBRL_TAXONOMY_DIR``; its
``esrs_cor.xsd`` lists every concept with its data type and period type. VSME: EFRAG's JSON dump
of the VSME taxonomy (MIT, ``LICENSE-EFRAG-MIT.txt``) at ``settings.VSME_TAXONOMY_JSON`` or in the
same folder.
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import ElementTree
from django.conf import settings

XSD = "{http://www.w3.org/2001/XMLSchema}"
XBRLI = "{http://www.xbrl.org/2003/instance}"
ESRS_PACKAGE = "ESRS-Set1-XBRL-Taxonomy.zip"
COUNTRY_STUB = "xii-country-current-2024-offline-stub.zip"
VSME_DUMP = "vsme-2026-05-01-taxonomy.json"


class TaxonomyError(Exception):
    """The taxonomy is missing or lacks a concept a regime needs: a clear message, no report."""


@dataclass(frozen=True)
class Concept:
    name: str
    data_type: str
    period_type: str
    abstract: bool


@dataclass(frozen=True)
class Taxonomy:
    prefix: str
    namespace: str
    entry_point: str
    concepts: dict[str, Concept]
    packages: tuple[Path, ...] = ()
    # Axis -> its default member (QNames): a fact on the default member carries no dimension.
    defaults: dict[str, str] = field(default_factory=dict)

    def concept(self, name: str) -> Concept:
        try:
            return self.concepts[name]
        except KeyError as exc:
            raise TaxonomyError(f"The {self.prefix} taxonomy has no concept {name}.") from exc

    def qname(self, name: str) -> str:
        return f"{self.prefix}:{self.concept(name).name}"

    def member(self, pattern: str, *, words: str) -> str:
        """The one domain member matching the regex ``pattern`` whose name shares the most words
        with ``words`` (e.g. a Scope 3 category's label)."""
        regex = re.compile(pattern)
        candidates = [n for n in self.concepts if regex.fullmatch(n)]
        if not candidates:
            raise TaxonomyError(f"The {self.prefix} taxonomy has no member matching {pattern}.")
        wanted = {w for w in re.findall(r"[a-z]+", words.lower()) if len(w) > 2}

        def overlap(name: str) -> int:
            parts = {p.lower() for p in re.findall(r"[A-Z][a-z]+", name)}
            return len(parts & wanted)

        return f"{self.prefix}:{max(candidates, key=lambda n: (overlap(n), -len(n)))}"


def taxonomy_dir() -> Path:
    folder = settings.XBRL_TAXONOMY_DIR
    if not folder or not Path(folder).is_dir():
        raise TaxonomyError(
            "No XBRL taxonomy folder is configured (XBRL_TAXONOMY_DIR): reports cannot be tagged."
        )
    return Path(folder)


@functools.cache
def _esrs(folder: str) -> Taxonomy:
    package = Path(folder) / ESRS_PACKAGE
    if not package.is_file():
        raise TaxonomyError(f"The ESRS taxonomy package {ESRS_PACKAGE} is not in {folder}.")
    with zipfile.ZipFile(package) as archive:
        cor = next((n for n in archive.namelist() if n.endswith("/common/esrs_cor.xsd")), None)
        entry = next((n for n in archive.namelist() if n.endswith("/esrs_all.xsd")), None)
        if cor is None or entry is None:
            raise TaxonomyError(f"{ESRS_PACKAGE} has no esrs_cor.xsd / esrs_all.xsd.")
        root = ElementTree.fromstring(archive.read(cor))
    concepts = {
        el.get("name"): Concept(
            name=el.get("name"),
            data_type=el.get("type", ""),
            period_type=el.get(f"{XBRLI}periodType", ""),
            abstract=el.get("abstract") == "true",
        )
        for el in root.iter(f"{XSD}element")
    }
    # The entry point's URL is its path in the package after the package folder.
    url = "https://" + entry.split("/", 1)[1]
    stub = Path(folder) / COUNTRY_STUB
    packages = (package, stub) if stub.is_file() else (package,)
    return Taxonomy(
        prefix="esrs",
        namespace=root.get("targetNamespace", ""),
        entry_point=url,
        concepts=concepts,
        packages=packages,
    )


def esrs_taxonomy() -> Taxonomy:
    return _esrs(str(taxonomy_dir()))


@functools.cache
def _vsme(path: str) -> Taxonomy:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    concepts = {
        key.split(":", 1)[1]: Concept(
            name=key.split(":", 1)[1],
            data_type=value.get("dataType", ""),
            period_type=value.get("periodType", ""),
            abstract=bool(value.get("abstract")),
        )
        for key, value in data["concepts"].items()
        if key.startswith("vsme:")
    }
    return Taxonomy(
        prefix="vsme",
        namespace=data["namespaces"]["vsme"],
        entry_point=data["entryPoint"],
        concepts=concepts,
        defaults=dict(data.get("dimensions", {}).get("_defaults", {})),
    )


def vsme_taxonomy() -> Taxonomy:
    path = settings.VSME_TAXONOMY_JSON
    if not path:
        path = str(taxonomy_dir() / VSME_DUMP)
    if not Path(path).is_file():
        raise TaxonomyError(f"The VSME taxonomy dump {VSME_DUMP} is not configured or missing.")
    return _vsme(path)
