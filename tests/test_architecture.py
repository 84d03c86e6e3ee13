"""The layers of the package import downwards only (docs/architecture.md), checked on the source.

Every ``import simve.X`` or ``from simve.X import ...`` anywhere in a module (functions included) is
an edge; a module may import its own top-level package or module, and any lower layer.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simve"
LAYERS = (
    ("errors",),
    ("io", "stats", "distributed", "settings"),
    ("data", "nets", "losses", "plots"),
    ("models",),
    ("train",),
    ("evaluate",),
    ("runs",),
    ("presets", "analyse"),
    ("experiments", "benchmark", "tune", "timing"),
    ("demo",),
    ("cli",),
    ("__main__",),
)
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def top(module: str) -> str:
    """``simve.models.simve`` -> ``models``; the package itself (``simve``) -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every simve import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "simve"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "simve":
            if node.module == "simve":  # from simve import X: X is a module or a name of simve/__init__
                found += [(node.lineno, f"simve.{alias.name}") for alias in node.names
                          if (PACKAGE / alias.name).exists() or (PACKAGE / f"{alias.name}.py").exists()]
            else:
                found.append((node.lineno, node.module))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_part_of_the_package_has_a_layer():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert parts - set(LAYER) == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downwards(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [f"line {line}: {module}" for line, module in imports(path)
              if top(module) and top(module) != own and LAYER[top(module)] >= LAYER[own]]
    assert not upward, f"{own} (layer {LAYER[own]}) imports upwards or sideways: {upward}"


def test_the_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from simve.runs import cached\n")
    assert imports(bad) == [(2, "simve.runs")] and LAYER["runs"] > LAYER["models"]


def documented_layers(text: str) -> tuple[tuple[str, ...], ...]:
    """The modules of each row of the ``| layer | modules | ... |`` table in ``text``, in order."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace(" ", "").startswith("|layer|modules|"))
    rows = []
    for line in lines[start + 2:]:  # after the header and its |---| line
        if not line.startswith("|"):
            break
        level, modules = (cell.strip() for cell in line.strip("|").split("|")[:2])
        assert level == str(len(rows)), f"layer {level!r} out of order in docs/architecture.md"
        rows.append(tuple(name.strip().strip("`") for name in modules.split(",")))
    return tuple(rows)


def test_the_documented_layers_are_the_tested_ones():
    doc = PACKAGE.parent / "docs" / "architecture.md"
    assert documented_layers(doc.read_text()) == LAYERS


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(PACKAGE)} has {lines} lines: split it by what its parts do"
