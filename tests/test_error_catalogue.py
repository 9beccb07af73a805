"""The error-code catalogue (flowker/codes.py) is the one definition, and docs/errors.md agrees with it."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from flowker import codes

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "flowker"
CATALOGUE = PACKAGE / "codes.py"
DOCS = ROOT / "docs" / "errors.md"


def _documented() -> set[str]:
    """Every code in the first column of docs/errors.md's tables (``FLK-0110 / 0111`` is two)."""
    found: set[str] = set()
    for line in DOCS.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cell = line.split("|")[1].strip().strip("`")
        if cell in ("UNAUTHORIZED", "INVALID_CURSOR"):
            found.add(cell)
        elif cell.startswith("FLK-"):
            found.update(f"FLK-{n}" for n in re.findall(r"\d{4}", cell))
    return found


def test_catalogue_and_docs_agree() -> None:
    catalogued = set(codes.catalogue().values())
    documented = _documented()
    assert documented, "no codes found in docs/errors.md"
    assert catalogued - documented == set(), "in flowker/codes.py but not in docs/errors.md"
    assert documented - catalogued == set(), "in docs/errors.md but not in flowker/codes.py"


def test_each_code_has_one_name() -> None:
    counts = Counter(codes.catalogue().values())
    shared = {
        code: sorted(n for n, v in codes.catalogue().items() if v == code and n not in codes.ALIASES)
        for code, count in counts.items()
        if count > 1
    }
    assert {code: names for code, names in shared.items() if len(names) > 1} == {}
    assert set(codes.catalogue()) >= codes.ALIASES, "an alias that is not a constant"


def test_codes_look_like_codes() -> None:
    for name, value in codes.catalogue().items():
        assert re.fullmatch(r"FLK-\d{4}|UNAUTHORIZED|INVALID_CURSOR", value), name


def test_no_module_spells_a_code_out() -> None:
    literal = re.compile(r"""["'](FLK-\d|UNAUTHORIZED["']|INVALID_CURSOR["'])""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != CATALOGUE
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    assert offenders == []
