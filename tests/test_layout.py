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


# The rooms from the bottom up: a module imports only from its own room or the rooms below (lazy imports
# included), so the arrows follow the data flow: audio -> analysis -> walk -> control -> show / export -> run.
ROOMS = [
    ("core",),
    ("engine",),
    ("live", "live.config", "live.classes", "live.options"),
    ("live.audio", "live.analysis"),
    ("live.walk",),
    ("live.recordings", "live.lyrics"),
    ("live.control",),
    ("live.show",),
    ("live.export",),
    ("live.run",),
    ("live.cli", "live.flags", "live.__main__"),
]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> int:
    """The room of the longest name in ROOMS that is the module or a package above it."""
    owners = [(len(name), r) for r, names in enumerate(ROOMS) for name in names
              if module == name or module.startswith(name + ".")]
    return max(owners)[1]


def _imports() -> dict[str, set[str]]:
    """module -> the project modules it imports (every import statement, at any depth)."""
    mods = {_module(p): p for top in ("core", "engine", "live") for p in (ROOT / top).rglob("*.py")}
    graph = {}
    for mod, path in mods.items():
        found = set()
        for n in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else []
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                names = [n.module] + [f"{n.module}.{a.name}" for a in n.names]
            found |= {x for x in names if x in mods}
        graph[mod] = found - {mod}
    return graph


def test_no_arrows_up():
    up = [f"{m} ({_room(m)}) imports {d} ({_room(d)})" for m, deps in _imports().items() for d in deps
          if _room(d) > _room(m)]
    assert not up, "\n".join(up)


def test_no_import_circles():
    graph, state, circles = _imports(), {}, []

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                circles.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    # A package's __init__ importing its own submodules is how a package exposes them, not a circle.
    circles = [c for c in circles if not any(a.startswith(b + ".") or b.startswith(a + ".")
                                              for a, b in zip(c.split(" -> "), c.split(" -> ")[1:]))]
    assert not circles, "\n".join(circles)
