"""Project hygiene: environment.yml vs pyproject.toml, Makefile pin, CI script, data README."""
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch", "igl": "libigl"}
NOT_RUNTIME = {"python", "pip"}  # conda-only entries with no pyproject counterpart


def _parse_env_yml_by_hand(text: str) -> dict:
    """A small parser for the subset of YAML environment.yml uses (keys, '- item' lists, pip)."""
    env, key, in_pip = {}, None, False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        s = line.strip()
        if indent == 0 and ":" in s:
            key, _, val = s.partition(":")
            env[key] = val.strip() or []
            in_pip = False
        elif s == "- pip:":
            env[key].append({"pip": []})
            in_pip = True
        elif s.startswith("- "):
            item = s[2:].strip()
            if in_pip and indent > 4:
                env[key][-1]["pip"].append(item)
            else:
                in_pip = False
                env[key].append(item)
    return env


@pytest.fixture(scope="module")
def env():
    text = (ROOT / "environment.yml").read_text()
    parsed = _parse_env_yml_by_hand(text)
    try:
        import yaml
    except ImportError:
        return parsed
    loaded = yaml.safe_load(text)
    assert loaded == parsed, "the hand parser and PyYAML disagree on environment.yml"
    return loaded


@pytest.fixture(scope="module")
def pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _conda_spec(item: str):
    """'pytorch>=2.2' -> ('torch', SpecifierSet('>=2.2')); conda 'x=1.2' means '==1.2.*'."""
    m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", item.strip())
    assert m, f"cannot parse conda dependency {item!r}"
    name, spec = m.group(1).lower(), m.group(2).replace(" ", "")
    spec = re.sub(r"^=(?!=)(.+)$", r"==\1.*", spec)
    return canonicalize_name(CONDA_TO_PIP.get(name, name)), SpecifierSet(spec)


def _conda_deps(env):
    return [d for d in env["dependencies"] if isinstance(d, str)]


def test_env_and_pyproject_name_the_same_runtime_dependencies(env, pyproject):
    conda = {}
    for item in _conda_deps(env):
        name, spec = _conda_spec(item)
        if name in NOT_RUNTIME:
            continue
        assert name not in conda, f"{name} listed twice in environment.yml"
        conda[name] = spec
    pip = {}
    for dep in pyproject["project"]["dependencies"]:
        r = Requirement(dep)
        pip[canonicalize_name(r.name)] = r.specifier
    assert set(conda) == set(pip), (
        f"only in environment.yml: {sorted(set(conda) - set(pip))}; "
        f"only in pyproject.toml: {sorted(set(pip) - set(conda))}")
    for name in pip:
        assert conda[name] == pip[name], f"{name}: environment.yml {conda[name]} vs pyproject {pip[name]}"
    assert "torch" in pip and "numpy" in pip


def test_conda_spec_parser():
    assert _conda_spec("pytorch>=2.2") == ("torch", SpecifierSet(">=2.2"))
    assert _conda_spec("python=3.11") == ("python", SpecifierSet("==3.11.*"))
    assert _conda_spec("scikit-image >=0.21") == ("scikit-image", SpecifierSet(">=0.21"))
    assert _conda_spec("numpy") == ("numpy", SpecifierSet(""))


def test_env_channels(env):
    channels = env["channels"]
    assert "conda-forge" in channels
    assert channels[0] == "conda-forge"
    assert "pytorch" not in channels


def test_env_python_311(env):
    pythons = [d for d in _conda_deps(env) if _conda_spec(d)[0] == "python"]
    assert len(pythons) == 1
    spec = _conda_spec(pythons[0])[1]
    assert "3.11.7" in spec and "3.12.0" not in spec and "3.10.9" not in spec


def test_env_pip_installs_the_package_with_dev_extras(env):
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1
    assert "-e .[dev]" in pips[0]
    assert "pip" in _conda_deps(env)  # conda needs pip itself for the pip section


def test_pyproject_dev_extra_exists(pyproject):
    dev = {canonicalize_name(Requirement(d).name)
           for d in pyproject["project"]["optional-dependencies"]["dev"]}
    assert {"pytest", "nbval"} <= dev


def test_makefile_pins_torch_by_default():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^TORCH\s*\?=\s*torch==2\.13\.0\s*$", text, re.M)
    # and that default is what gets installed
    assert re.search(r"pip install .*\$\(TORCH\)", text)


def test_ci_runs_make_test():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [ln for ln in lines if ln and not ln.startswith("#")]
    assert "make test" in commands


def test_data_readme_mentions_every_file():
    data = ROOT / "data"
    readme = data / "README.md"
    assert readme.is_file(), "data/README.md is missing: describe every bundled file there"
    text = readme.read_text()
    files = [p for p in sorted(data.rglob("*")) if p.is_file()
             and p != readme and not p.name.endswith(".cache.npz") and "__pycache__" not in p.parts]
    assert files
    missing = [str(p.relative_to(data)) for p in files
               if str(p.relative_to(data).as_posix()) not in text and p.name not in text]
    assert not missing, f"data/README.md does not mention: {missing}"
