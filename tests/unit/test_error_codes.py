"""The error codes are declared once (pipeline/contract/errors.py) and documented as declared.

The README's list of API codes and its table of task codes must name exactly the codes of the
table, with the same statuses; and no module spells a code except through the table's names,
so a new code cannot ship without a row (and, through the README check, a line for users).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipeline.contract.errors import ERRORS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def readme_api_codes() -> dict[str, int | None]:
    """`code` -> the status the README gives it in parentheses (None when it gives none)."""
    paragraph = README.split("API (`4xx`):", 1)[1].split("Tasks end", 1)[0]
    paragraph = paragraph.replace("API (`5xx`):", "")
    found = {}
    for match in re.finditer(r"(?<!with )`([a-z_]+)`(?: \((\d{3})\b)?", paragraph):
        found[match.group(1)] = int(match.group(2)) if match.group(2) else None
    return found


def readme_task_codes() -> set[str]:
    table = README.split("| code | when |", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))


def test_the_readme_lists_every_api_code_with_its_status() -> None:
    documented = readme_api_codes()
    declared = {e.code for e in ERRORS.values() if e.status}
    # input_* answer a URL ingest too, but are listed in the task table; `internal` is both.
    api_only = {c for c in declared if not ERRORS[c].task or ERRORS[c].status == 500}
    assert set(documented) == api_only
    for code, status in documented.items():
        assert status is None or status == ERRORS[code].status, code


def test_the_readme_table_lists_every_task_code() -> None:
    assert readme_task_codes() == {e.code for e in ERRORS.values() if e.task}


def test_every_code_has_a_meaning_and_a_place() -> None:
    for entry in ERRORS.values():
        assert entry.meaning and (entry.task or entry.status), entry
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", entry.code), entry


def literal_codes(root: Path) -> list[str]:
    """path:line of each string literal equal to a code, outside the table itself."""
    found = []
    for package in ("pipeline", "operators"):
        for path in sorted((root / package).rglob("*.py")):
            if path.relative_to(root).as_posix() == "pipeline/contract/errors.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in ERRORS:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def test_codes_are_spelled_only_in_the_table() -> None:
    spelled = literal_codes(ROOT)
    assert not spelled, "use pipeline.contract.errors' names:\n" + "\n".join(spelled)


def test_the_literal_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "operators").mkdir()
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "operators" / "x.py").write_text('raise TaskError("no_audio_stream", "m")\n')
    assert literal_codes(tmp_path) == ["operators/x.py:1: 'no_audio_stream'"]
