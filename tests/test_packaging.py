"""The package installs like an application: the wheel carries its data files, installs without the source
tree, and its `haihai-tui` command works from any folder; requirements.lock pins everything pyproject needs.

The wheel is built without network (`--no-build-isolation`, setuptools comes from requirements.lock) and
installed into a fresh venv whose only other path is the running environment's site-packages (a .pth
line), so the dependencies need no download and the check takes seconds.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "haihai_tui"
LOCK = ROOT / "requirements.lock"

#: data files the installed package reads at run time (relative to haihai_tui/)
DATA_FILES = [
    "tui/app.tcss",
    "samples/admin.toml",
    "samples/db.toml",
    "samples/tui.toml",
    "samples/secrets.toml.example",
]


def _run(
    cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def _copy_source(to: Path) -> Path:
    """The files a build reads, away from the shared working tree (no build/ or egg-info left in it)."""
    src = to / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "haihai_tui", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return src


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the package the wheel is built from (the working tree may change meanwhile)."""
    return _copy_source(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = source
    out = base / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(out),
            str(src),
        ],
        cwd=base,
        timeout=180,
    )
    wheels = list(out.glob("haihai_tui-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (not editable); returns its bin folder."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    py = venv / "bin" / "python"
    purelib = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=venv.parent
        ).stdout.strip()
    )
    # the dependencies from the running environment, after the venv's own site-packages: a plain path line,
    # so the .pth files there (an editable install of haihai_tui among them) are not run
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "zz_haihai_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(here)))
    _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=venv.parent,
        timeout=180,
    )
    return venv / "bin"


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAIHAI_", "PYTHON")) and k not in ("VIRTUAL_ENV",)}
    env["HOME"] = str(home)
    return env


def test_wheel_carries_the_data_files_and_only_the_package(wheel: Path, source: Path):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for rel in DATA_FILES:
        assert f"haihai_tui/{rel}" in names, f"{rel} is missing from {wheel.name}"
    tracked = {p.relative_to(source).as_posix() for p in (source / "haihai_tui").rglob("*") if p.is_file()}
    missing = sorted(t for t in tracked if t not in names)
    assert not missing, f"files of the package left out of the wheel: {missing}"
    others = {n.split("/", 1)[0] for n in names} - {"haihai_tui"}
    assert len(others) == 1 and others.pop().endswith(".dist-info"), f"the wheel holds more than the package: {names}"
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as z:
        assert "haihai-tui = haihai_tui.cli.main:main" in z.read(entry).decode()


def test_installed_command_runs_demo_and_init_from_another_folder(installed: Path, source: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(tmp_path / "home")
    cmd = str(installed / "haihai-tui")

    where = _run(
        [str(installed / "python"), "-c", "import haihai_tui, sys; print(haihai_tui.__file__)"], cwd=elsewhere, env=env
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(installed.parent.resolve()), (
        f"haihai_tui came from {where}, not from the installed wheel"
    )
    assert not Path(where).resolve().is_relative_to(ROOT)

    demo_dir = tmp_path / "demo"
    done = _run([cmd, "demo", "--no-tui", "--dir", str(demo_dir), "--rows", "50"], cwd=elsewhere, env=env)
    assert re.search(r"^50 customers in ", done.stdout, re.M), done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert (demo_dir / "config" / "db.toml").is_file()

    config = tmp_path / "cfg"
    done = _run([cmd, "init", "--config-dir", str(config)], cwd=elsewhere, env=env)
    assert "wrote " in done.stdout, done.stdout
    for sample, name in {
        "admin.toml": "admin.toml",
        "db.toml": "db.toml",
        "tui.toml": "tui.toml",
        "secrets.toml.example": "secrets.toml",
    }.items():
        assert (config / name).read_bytes() == (source / "haihai_tui" / "samples" / sample).read_bytes(), name
    assert (config / "secrets.toml").stat().st_mode & 0o077 == 0

    # the stylesheet the TUI loads sits beside the installed app module
    css = _run(
        [
            str(installed / "python"),
            "-c",
            "from importlib.resources import files; print(len(files('haihai_tui.tui').joinpath('app.tcss')"
            ".read_bytes()))",
        ],
        cwd=elsewhere,
        env=env,
    ).stdout.strip()
    assert int(css) == (source / "haihai_tui" / "tui" / "app.tcss").stat().st_size


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not NAME==VERSION"
        pins[canonicalize_name(name)] = version
    return pins


def _declared(*, test: bool = True) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    raw = project["dependencies"] + (project["optional-dependencies"]["test"] if test else [])
    return [Requirement(r) for r in raw]


def test_lock_pins_every_dependency_within_the_declared_ranges():
    """Every runtime and test requirement, transitive included, is pinned, and each pin satisfies pyproject."""
    pins = _lock()
    todo = [(r, frozenset(r.extras)) for r in _declared()]
    seen: set[str] = set()
    problems = []
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req} is not in requirements.lock (run `make lock`)")
            continue
        if not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"requirements.lock pins {name}=={pins[name]}, outside {req}")
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed here; install the lock: make test")
            continue
        for raw in dist.requires or []:
            sub = Requirement(raw)
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(e) for e in envs):
                todo.append((sub, frozenset(sub.extras)))
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_the_code_imports_only_declared_packages():
    """Each third-party top-level import in haihai_tui/ comes from a package that pyproject's dependencies name
    (rich and certifi were once only there because textual and httpx pulled them in)."""
    declared = {canonicalize_name(r.name) for r in _declared(test=False)}
    providers = metadata.packages_distributions()
    imported: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                imported.setdefault(top, path.relative_to(ROOT).as_posix())
    problems = []
    for top, where in sorted(imported.items()):
        if top in sys.stdlib_module_names or top in ("haihai_tui", "__future__"):
            continue
        dists = {canonicalize_name(d) for d in providers.get(top, [])}
        if not dists & declared:
            problems.append(
                f"{where} imports {top!r} (from {sorted(dists) or 'nothing installed'}), "
                f"which pyproject.toml's dependencies do not name"
            )
    assert not problems, "\n".join(problems)
