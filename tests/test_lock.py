"""requirements.lock: what bootstrap installs is what is installed, and it still meets pyproject.toml."""

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("test", "dask")  # the extras bootstrap.sh installs through the lock


def _locked() -> dict[str, Version]:
    """Canonical name -> pinned version, from the `name==version` lines (comments and `# via` notes skipped)."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"not pinned with ==: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + [r for extra in EXTRAS for r in extras[extra]]]


LOCKED = _locked()


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_installed_versions_are_the_locked_ones():
    wrong = []
    for name, pinned in LOCKED.items():
        installed = _installed(name)
        if installed is None or Version(installed) != pinned:
            wrong.append(f"{name}: installed {installed}, locked {pinned}")
    assert not wrong, f"run bootstrap.sh, or regenerate the lock: {wrong}"


def test_declared_dependencies_are_locked_within_their_ranges():
    bad = []
    for requirement in _declared():
        pinned = LOCKED.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            bad.append(f"{requirement} (locked: {pinned})")
    assert not bad, f"pyproject.toml and requirements.lock disagree; regenerate the lock: {bad}"


def test_lock_is_closed():
    """bootstrap installs the project with --no-deps: every locked package's own requirements must be locked too."""
    missing = set()
    for name in filter(_installed, LOCKED):  # one not installed is the first test's failure
        for spec in metadata.requires(name) or []:
            requirement = Requirement(spec)
            wanted = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
            if wanted and canonicalize_name(requirement.name) not in LOCKED:
                missing.add(f"{requirement.name} (needed by {name})")
    assert not missing, f"requirements.lock lacks: {sorted(missing)}"
