"""The project's own setup files agree with each other."""
from __future__ import annotations

import tomllib

import yaml
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet


def _pyproject() -> dict[str, SpecifierSet]:
    d = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = d["project"]["dependencies"] + d["project"]["optional-dependencies"]["test"]
    return {Requirement(r).name.lower(): Requirement(r).specifier for r in reqs}


def _environment() -> dict[str, SpecifierSet]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python=", "pip")):
            name, _, spec = dep.partition(" ")
            out[name.lower()] = SpecifierSet(spec.replace(" ", ""))
    return out


def test_environment_yml_mirrors_pyproject():
    py, env = _pyproject(), _environment()
    assert sorted(py) == sorted(env), f"only in pyproject: {set(py) - set(env)}; only in environment.yml: {set(env) - set(py)}"
    assert {k: str(v) for k, v in py.items()} == {k: str(v) for k, v in env.items()}


def test_environment_installs_the_package_editable():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pips = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pips and "-e ." in pips[0]["pip"]


def test_lock_satisfies_pyproject():
    locked = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            locked[name.lower().replace("_", "-")] = version.split(";")[0].strip()
    for name, spec in _pyproject().items():
        key = name.replace("_", "-")
        assert key in locked, f"{name} is not in requirements.lock: run `make lock`"
        assert spec.contains(locked[key]), f"{name}=={locked[key]} in requirements.lock does not satisfy {spec}: run `make lock`"


def test_docs_list_every_contract_column_and_reason():
    from analytics_lib.core import schema as S

    text = (ROOT / "docs" / "events.md").read_text()
    missing = [name for name in (*S.COLUMNS, *S.EVENT_TYPES, *S.REASONS) if f"`{name}`" not in text]
    assert not missing, f"docs/events.md is out of date, missing: {missing}"
