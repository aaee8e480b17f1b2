"""The README's commands are the commands that exist, and its links lead somewhere.

Parses the fenced code blocks of README.md (and of docs/*.md and bench/RESULTS.md): every
`python -m <module>` (or `torchrun ... -m <module>`) must be a runnable module of this repository, every
`make <target>` a Makefile target, every `slurm/<file>` a file; and every runnable module of the
project must appear in the README. Links inside the repository must resolve, anchors included. Nothing
is run: modules are found with importlib, not imported.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest

from finetune.deid.detectors import RULE_NAMES

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
RESULTS = REPO / "bench" / "RESULTS.md"
MARKDOWN = [README, *DOCS, RESULTS]
PACKAGES = ("tokenizer", "data_prep", "pretrain", "finetune", "synthetic", "gatortron_common")
# Runnable files that are scripts run by path, not commands: where they are documented instead.
SCRIPTS_BY_PATH = {"finetune.deid.lexicons.build_lexicons": REPO / "docs" / "deid.md"}

PYTHON_M = re.compile(r"\bpython3?\s+-m\s+([A-Za-z_][\w.]*)")
TORCHRUN_M = re.compile(r"\btorchrun\b.*?\s-m\s+([A-Za-z_][\w.]*)")
MAKE = re.compile(r"^make\s+([\w-]+)")
SLURM_FILE = re.compile(r"(?<![\w/.])slurm/([\w.-]+)")
BENCH_SCRIPT = re.compile(r"(?<![\w/.])bench/(\w+\.py)\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
MAIN_GUARD = re.compile(r"^if __name__ == [\"']__main__[\"']:", re.MULTILINE)
MAX_README_LINES = 220


def code_lines(path: Path) -> list[str]:
    """The lines inside fenced code blocks of a markdown file, stripped."""
    lines, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line.strip())
    return lines


def modules_in(path: Path) -> set[str]:
    """Modules started with `python -m` or `torchrun ... -m` in the code blocks of `path`."""
    found = set()
    for line in code_lines(path):
        found.update(PYTHON_M.findall(line))
        found.update(TORCHRUN_M.findall(line))
    return found


def runnable(module: str) -> bool:
    """True when `python -m module` runs a file of this repository."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:  # a package: it needs its __main__
        spec = importlib.util.find_spec(f"{module}.__main__")
        if spec is None:
            return False
    if spec.origin is None or not Path(spec.origin).resolve().is_relative_to(REPO):
        return False
    origin = Path(spec.origin)
    return origin.name == "__main__.py" or bool(MAIN_GUARD.search(origin.read_text(encoding="utf-8")))


def project_entry_points() -> set[str]:
    """Every `python -m` command the project's packages define (a __main__.py or a __main__ guard)."""
    found = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            if path.name == "__main__.py":
                found.add(".".join(parts[:-1]))
            elif MAIN_GUARD.search(path.read_text(encoding="utf-8")):
                found.add(".".join(parts))
    return found


def make_targets() -> set[str]:
    """Targets defined in the Makefile."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([\w-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings (repeats get -1, -2, ... as on GitHub)."""
    seen: Counter[str] = Counter()
    found = set()
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        match = None if inside else HEADING.match(line)
        if match:
            base = slug(match.group(1))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def local_links(path: Path) -> list[str]:
    """Link targets in a markdown file that point inside the repository."""
    return [target for target in LINK.findall(path.read_text(encoding="utf-8"))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines (at most {MAX_README_LINES})"
    commands = code_lines(README)
    for command in ("make demo", "make test"):
        assert any(line.startswith(command) for line in commands), f"README.md lost `{command}`"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_python_m_command_exists(path: Path) -> None:
    modules = modules_in(path)
    missing = sorted(module for module in modules if not runnable(module))
    assert not missing, f"{path.name}: no runnable module for python -m {missing}"


def test_readme_lists_every_command_of_the_project() -> None:
    modules = modules_in(README)
    assert len(modules) >= 10, sorted(modules)
    undocumented = sorted(project_entry_points() - modules - set(SCRIPTS_BY_PATH))
    assert not undocumented, f"README.md has no command line for python -m {undocumented}"
    for module, doc in SCRIPTS_BY_PATH.items():
        assert module.rsplit(".", 1)[-1] in doc.read_text(encoding="utf-8"), (module, doc.name)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_make_target_and_slurm_file_exists(path: Path) -> None:
    targets = make_targets()
    lines = code_lines(path)
    missing_targets = sorted({m.group(1) for line in lines if (m := MAKE.match(line))} - targets)
    assert not missing_targets, f"{path.name}: no Makefile target {missing_targets}"
    slurm = {name for line in lines for name in SLURM_FILE.findall(line)}
    missing_files = sorted(name for name in slurm if not (REPO / "slurm" / name).is_file())
    assert not missing_files, f"{path.name}: no slurm/{missing_files}"


def test_readme_names_sbatch_scripts() -> None:
    scripts = {name for line in code_lines(README) if "sbatch" in line for name in SLURM_FILE.findall(line)}
    assert scripts == {p.name for p in (REPO / "slurm").glob("*.sbatch")}, scripts


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_bench_script_named_exists(path: Path) -> None:
    named = set(BENCH_SCRIPT.findall(path.read_text(encoding="utf-8")))
    missing = sorted(name for name in named if not (REPO / "bench" / name).is_file())
    assert not missing, f"{path.name}: no bench/{missing}"


def test_results_has_a_section_per_bench_script() -> None:
    scripts = [p for p in (REPO / "bench").glob("*.py") if p.name != "bench_environment.py"]
    sections = {slug(f"`bench/{p.name}`") for p in scripts}
    assert sections <= anchors(RESULTS), sorted(sections - anchors(RESULTS))


def test_readme_links_every_manual_and_the_results() -> None:
    linked = {(README.parent / target.split("#")[0]).resolve() for target in local_links(README)}
    assert DOCS, "docs/ holds no manual"
    for path in (*DOCS, RESULTS):
        assert path.resolve() in linked, f"README.md does not link {path.relative_to(REPO)}"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_local_links_resolve(path: Path) -> None:
    for target in local_links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path.resolve()
        assert linked.exists(), f"{path.name}: link to missing {target}"
        assert linked.is_relative_to(REPO), f"{path.name}: link outside the repository {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{path.name}: no heading for #{anchor} in {linked.name}"


def test_deid_rules_table_names_every_shipped_rule() -> None:
    rows = [line for line in (REPO / "docs" / "deid.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| `")]
    in_table = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    missing = sorted(set(RULE_NAMES) - in_table)
    assert not missing, f"docs/deid.md's rules table lacks {missing}"
