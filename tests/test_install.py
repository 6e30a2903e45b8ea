"""The suite as a package: metadata that cannot drift from the requirements files, a wheel that
holds every manifest and runner file, and an installed suite that runs from any directory.

The `install` tests are real: a fresh venv that sees this environment's packages (so nothing is
downloaded), ``pip install --no-deps --no-build-isolation`` (setuptools comes from
requirements-dev.txt), then the console script in another directory, with the Go toolchain,
builds and compiled modules from the shared cache. Select them with ``-m install``.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness import cachedir
from harness.paths import DEFAULT_RESULTS, MANIFESTS, SUITE
from suites import cli

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
CASE = "types/int32-add"
RUN = ["--engine", "wasmtime", "-k", "int32-add", "--go", "go1.27.3"]
TIMEOUT_S = 900  # a cold cache fetches the Go toolchain and builds the case first

install = pytest.mark.install


def requirement_lines(path: Path) -> list[str]:
    return [s for line in path.read_text(encoding="utf-8").splitlines()
            if (s := line.strip()) and not s.startswith("#")]


# -- metadata ----------------------------------------------------------------------------------


def test_dependencies_are_the_pins_of_requirements_txt():
    assert sorted(PYPROJECT["project"]["dependencies"]) == sorted(
        requirement_lines(REPO / "requirements.txt"))


def test_dev_extra_is_requirements_dev_txt_on_top_of_requirements_txt():
    lines = requirement_lines(REPO / "requirements-dev.txt")
    assert [x for x in lines if x.startswith("-")] == ["-r requirements.txt"]  # what tox installs
    assert sorted(PYPROJECT["project"]["optional-dependencies"]["dev"]) == sorted(
        x for x in lines if not x.startswith("-"))


def test_the_installed_suite_judges_with_the_clones_pytest_options():
    ini = configparser.ConfigParser()
    ini.read(cli.CONFIG, encoding="utf-8")
    clone = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert ini["pytest"]["addopts"] == clone["addopts"]
    assert ini.getboolean("pytest", "xfail_strict") is True
    assert clone["xfail_strict"] is True
    assert "no:cacheprovider" not in clone["addopts"]  # --lf and --ff need the cache


def test_entry_point_is_named_like_the_module():
    """pytest skips an already registered name: the clone's conftest.py then loads nothing twice."""
    assert PYPROJECT["project"]["entry-points"]["pytest11"] == {"suites.plugin": "suites.plugin"}


# -- the console script's pytest command line --------------------------------------------------


def test_cli_runs_the_suites_manifests_with_its_own_config(tmp_path):
    args = cli.pytest_args(["--engine", "wasmtime", "-k", "int32-add"], tmp_path)
    assert args[args.index("-c") + 1] == str(cli.CONFIG)
    assert args[args.index("--rootdir") + 1] == str(SUITE)
    assert str(MANIFESTS) in args
    assert args[-4:] == ["--engine", "wasmtime", "-k", "int32-add"]
    assert f"cache_dir={tmp_path / '.pytest_cache'}" in args
    assert args[args.index("--results") + 1] == str(tmp_path / DEFAULT_RESULTS)


def test_cli_user_options_come_last_so_they_win(tmp_path):
    args = cli.pytest_args(["--results", "mine.jsonl"], tmp_path)
    assert args[-2:] == ["--results", "mine.jsonl"]


def test_cli_item_ids_select_items_of_the_suite(tmp_path):
    item = "manifests/types/int32-add.yaml::wasmtime[go1.27.3]"
    args = cli.pytest_args([item, "--engine", "wasmtime"], tmp_path)
    assert f"{SUITE / 'manifests/types/int32-add.yaml'}::wasmtime[go1.27.3]" in args
    assert str(MANIFESTS) not in args
    own = tmp_path / "manifests" / "types" / "int32-add.yaml"  # a file of the user's wins
    own.parent.mkdir(parents=True)
    own.touch()
    assert cli.pytest_args([item], tmp_path)[-1] == item


# -- the wheel ----------------------------------------------------------------------------------


def git_files(*paths: str, untracked: bool = False) -> list[str]:
    cmd = ["git", "ls-files", "-z", *(["--others", "--exclude-standard"] if untracked else []),
           "--", *paths]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, check=True).stdout.decode()
    return [name for name in out.split("\0") if name]


def fresh_copy(dest: Path) -> Path:
    """The work tree as a fresh clone of it would be (tracked and new files, nothing ignored):
    builds from it see no build/ or *.egg-info left over from another build, and write none
    into the work tree."""
    for name in sorted({*git_files(), *git_files(untracked=True)}):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run `cmd`; a non-zero exit fails the test with the command's output."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)
    assert proc.returncode == 0, (f"{' '.join(cmd)} exited {proc.returncode}\n"
                                  f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = fresh_copy(tmp_path_factory.mktemp("src"))
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(src)], cwd=dist)
    (built,) = dist.glob("*.whl")
    return built


@install
def test_wheel_holds_every_file_of_the_suite_and_nothing_else(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    suite = git_files("manifests", "runners", "harness", "suites", "reports")
    assert any(n.startswith("runners/wasmer/host/src/") for n in suite)  # the listing is real
    assert [n for n in suite if n not in names] == []
    assert "suites/conformance.ini" in names
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"harness", "suites", "reports", "runners", "manifests"}  # no tests/, conftest.py
    assert [n for n in names if "__pycache__" in n or n.startswith("reports/out/")] == []


# -- installed suites ---------------------------------------------------------------------------


def make_venv(path: Path) -> Path:
    """A venv that sees this environment's packages, also when this interpreter is itself a venv
    (``--system-site-packages`` alone would reach only the base interpreter's); its own
    site-packages comes first, so what is installed into it wins. Returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(path)], check=True, timeout=120)
    python = path / "bin" / "python"
    ours = {*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (site_packages(python) / "_parent_environment.pth").write_text(
        "".join(f"{p}\n" for p in sorted(ours) if Path(p).is_dir()), encoding="utf-8")
    return python


def site_packages(python: Path) -> Path:
    out = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
              cwd=python.parent).stdout
    return Path(out.strip()).resolve()


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under `root` with its size and mtime: a write anywhere, even of a
    file removed again, changes it."""
    out = {".": (0, root.stat().st_mtime_ns)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell: the shared cache, nothing that points Python or pytest at the clone."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS",
                        "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_XDIST_WORKER")
           and not k.startswith("WASMEXPORT_RUNNER_")}
    env[cachedir.ENV] = str(cachedir.root())
    env.update(extra)
    return env


def hostile_project(root: Path) -> Path:
    """A project whose pytest configuration must never reach the suite: the venv lives in it and
    the run starts in it. Any of these files applied makes pytest fail."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "--from-a-pyproject"\n')
    (root / "conftest.py").write_text("raise RuntimeError('a conftest.py outside the suite ran')\n")
    work = root / "work"
    work.mkdir()
    (work / "pytest.ini").write_text("[pytest]\naddopts = --from-a-pytest-ini\n")
    return work


def verdicts(results: Path) -> dict[tuple[str, str], str]:
    docs: list[dict[str, Any]] = [json.loads(x) for x in results.read_text().splitlines()]
    return {(d["case"], d["engine"]): d["verdict"] for d in docs if d.get("type") == "result"}


def conformance_run(python: Path, work: Path, env: dict[str, str]) -> None:
    """The README's command in `work`: the case passes on wasmtime, results land in `work`."""
    script = python.parent / "wasmexport-conformance"
    proc = run([str(script), *RUN], cwd=work, env=env)
    assert str(work / DEFAULT_RESULTS) in proc.stdout
    assert verdicts(work / DEFAULT_RESULTS).get((CASE, "wasmtime")) == "pass", proc.stdout[-4000:]
    assert (work / ".pytest_cache").is_dir()  # --lf / --ff have their cache, in the user's directory


@install
def test_installed_suite_runs_from_another_directory_and_writes_nothing_into_it(tmp_path):
    src = fresh_copy(tmp_path / "src")
    work = hostile_project(tmp_path / "project")
    python = make_venv(tmp_path / "project" / ".venv")
    run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", str(src)],
        cwd=tmp_path)
    lib = site_packages(python)
    env = user_env()

    # The plugin comes from the installed entry point alone: no conftest.py, no -p.
    help_text = run([str(python), "-m", "pytest", "--help"], cwd=tmp_path, env=env).stdout
    assert "--engine" in help_text and "--results" in help_text
    where = run([str(python), "-c", "import harness.paths as p, suites.plugin as s; "
                 "print(p.SUITE); print(s.__file__)"], cwd=tmp_path, env=env).stdout.split()
    assert [Path(w).resolve() for w in where] == [lib, lib / "suites" / "plugin.py"]

    before = listing(lib)
    conformance_run(python, work, env)
    after = listing(lib)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == [], f"the run wrote into site-packages: {changed[:20]}"


@install
def test_editable_install_runs_the_clone_and_loads_the_plugin_once(tmp_path):
    clone = fresh_copy(tmp_path / "clone")
    work = hostile_project(tmp_path / "project")
    python = make_venv(tmp_path / "project" / ".venv")
    run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", "-e",
         str(clone)], cwd=tmp_path)
    env = user_env(PYTHONDONTWRITEBYTECODE="1")  # a clone's own .pyc files are not outputs
    where = run([str(python), "-c", "import harness.paths as p; print(p.SUITE)"], cwd=tmp_path,
                env=env).stdout.strip()
    assert Path(where).resolve() == clone.resolve()

    before = listing(clone)
    conformance_run(python, work, env)
    assert listing(clone) == before

    # In the clone the entry point and conftest.py's pytest_plugins both name suites.plugin, in
    # either order, or conftest.py alone: each loads it once.
    collect = [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
               "manifests/types/int32-add.yaml"]
    for extra, variables in [([], {}), (["-p", "suites.plugin"], {}),
                             ([], {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})]:
        proc = run([*collect, *extra], cwd=clone, env={**env, **variables})
        assert "int32-add.yaml::wasmtime" in proc.stdout, (extra, variables, proc.stdout)
