"""The house: packages listed for the wheel, modules of one job, the command line parsed in one place."""
import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = cfg.get("package-dir", {})
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("core", "engine", "live")
             for p in (ROOT / top).rglob("__init__.py")}
    found |= {name for name, d in dirs.items() if (ROOT / d / "__init__.py").is_file()}
    assert sorted(cfg["packages"]) == sorted(found)


def test_only_the_cli_sees_the_argument_namespace():
    for path in sorted((ROOT / "live").rglob("*.py")) + sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text())
        imports = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                   for a in n.names} | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        if path.relative_to(ROOT).as_posix() not in ("live/flags.py",):
            assert "argparse" not in imports, path


def test_latent_sizes_are_defined_once():
    for path in sorted((ROOT / "live").rglob("*.py")) + sorted((ROOT / "engine").rglob("*.py")):
        text = path.read_text()
        for name in ("Z_DIM =", "NUM_CLASSES =", "N_CLASSES ="):
            assert name not in text, f"{path}: define latent sizes only in core/dims.py"
