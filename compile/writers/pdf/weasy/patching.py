"""How the writer extends WeasyPrint: one registry of patches, each naming the private names it replaces and
relies on, installed together around our renders, only on the WeasyPrint versions they were tested with.

A patch is *active* when the installed WeasyPrint is in TESTED and `Patch.check()` finds every name it
replaces or reads, with the parameters it was written against. Otherwise it is never installed, and
`status()` says why: the PDF writer puts that in the report and warns (what the reader will see is
`Patch.without`). docs/upgrading.md says how to re-verify the patches on a new WeasyPrint.

`installed()` is reference-counted under one lock: the first block to enter installs a patch, the last to
leave restores WeasyPrint's own functions, whatever the order blocks are left in and from whichever thread
(Dask workers render volumes in threads). The replacement is process-wide, as WeasyPrint's module
attributes are: while any block is inside, every render in the process gets it.
"""

from __future__ import annotations

import contextlib
import dis
import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import weasyprint

TESTED = ">=70,<71"  # the WeasyPrint versions every patch was written and tested against (pyproject's pin)
VERSION = weasyprint.__version__  # what the gate reads (a test forces another version here)


@dataclass(frozen=True)
class Private:
    """A private name of WeasyPrint's: a module's or class's attribute, or an attribute a class's methods set.
    `parameters` ("context, line, extra_width"), when given, is checked against a function's signature."""

    owner: Any
    name: str
    parameters: str | None = None

    def __str__(self) -> str:
        owner = self.owner if inspect.ismodule(self.owner) or isinstance(self.owner, type) else type(self.owner)
        where = owner.__name__ if inspect.ismodule(owner) else f"{owner.__module__}.{owner.__qualname__}"
        return f"{where}.{self.name}"

    def problem(self, value: Any = None) -> str | None:
        """What is wrong with the name on the installed WeasyPrint (None: it is as expected). `value`: the
        attribute's original when it is replaced right now."""
        if value is None:
            if not hasattr(self.owner, self.name) and not _set_by_methods(self.owner, self.name):
                return f"{self} is gone"
            value = getattr(self.owner, self.name, None)
        if self.parameters is None:
            return None
        try:
            found = ", ".join(inspect.signature(value).parameters)
        except (TypeError, ValueError):
            return f"{self} is not a function"
        return None if found == self.parameters else f"{self} takes ({found}), not ({self.parameters})"


def _set_by_methods(owner: Any, name: str) -> bool:
    """Whether a method of the class (or its bases) assigns `self.<name>`: an instance attribute."""
    if not isinstance(owner, type):
        return False
    return any(instruction.opname == "STORE_ATTR" and instruction.argval == name
               for klass in owner.__mro__ for value in vars(klass).values() if inspect.isfunction(value)
               for instruction in dis.get_instructions(value))


@dataclass(eq=False)
class Patch:
    """One extension: what it replaces (private name -> our function), what else of WeasyPrint's private API
    it reads, and what a reader sees without it."""

    name: str
    without: str
    replaces: dict[Private, Callable | property] = field(default_factory=dict)  # a function, or a property
    uses: tuple[Private, ...] = ()
    probe: Callable[[], str | None] | None = None  # a behavioural check (None: passed), for what no name shows

    def check(self) -> str | None:
        """Why the patch cannot apply to the installed WeasyPrint, or None. Run once, then remembered."""
        with _LOCK:
            if self not in _CHECKED:
                _CHECKED[self] = self._check()
            return _CHECKED[self]

    def _check(self) -> str | None:
        saved = _SAVED.get(self, {})  # while installed, the originals are what to check
        problems = [p for p in (private.problem(saved.get(private)) for private in self.replaces) if p]
        problems += [p for p in (private.problem() for private in self.uses) if p]
        if not problems and self.probe is not None:
            try:
                problems = [p for p in (self.probe(),) if p]
            except Exception as exc:  # noqa: BLE001 - whatever a changed WeasyPrint raises, the patch stays out
                problems = [f"{self.name}'s probe failed: {exc!r}"]
        return "; ".join(problems) or None

    def active(self) -> bool:
        return self.reason() is None

    def reason(self) -> str | None:
        """Why the patch is inactive, or None when it is active."""
        if not tested(VERSION):
            return f"WeasyPrint {VERSION} is outside the tested range {TESTED}"
        return self.check()


REGISTRY: dict[str, Patch] = {}  # every patch, by name, as its module registers it on import
_LOCK = threading.RLock()
_DEPTH: dict[Patch, int] = {}  # how many blocks are inside, per installed patch
_SAVED: dict[Patch, dict[Private, Any]] = {}  # the originals of each installed patch
_CHECKED: dict[Patch, str | None] = {}


def _registered() -> list[Patch]:
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def register(patch: Patch) -> Patch:
    if patch.name in REGISTRY:
        raise ValueError(f"a WeasyPrint patch named {patch.name!r} is already registered")
    REGISTRY[patch.name] = patch
    return patch


def tested(version: str) -> bool:
    """Whether `version` is in TESTED (">=A,<B": major.minor... compared as numbers)."""
    def number(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split(".") if part.isdigit())

    have = number(version)
    for clause in TESTED.split(","):
        bound = number(clause.lstrip("<>="))
        if (clause.startswith(">=") and have < bound) or (clause.startswith("<") and not have < bound):
            return False
    return True


@contextlib.contextmanager
def installed(*patches: Patch) -> Iterator[bool]:
    """The active ones of `patches` installed for the duration of the block; yields whether all are active."""
    entered: list[Patch] = []
    try:
        with _LOCK:
            for patch in patches:
                if patch.active():
                    _enter(patch)
                    entered.append(patch)
        yield len(entered) == len(patches)
    finally:
        with _LOCK:
            for patch in reversed(entered):
                _leave(patch)


def _enter(patch: Patch) -> None:
    if _DEPTH.get(patch, 0) == 0:
        saved: dict[Private, Any] = {}
        try:
            for private, replacement in patch.replaces.items():
                # As stored, not as read: a class's staticmethod read is a plain function, which put back would
                # become a method (and take the instance as its first argument).
                original = inspect.getattr_static(private.owner, private.name)
                setattr(private.owner, private.name, replacement)
                saved[private] = original
        except BaseException:  # half a patch is worse than none
            _restore(saved)
            raise
        _SAVED[patch] = saved
    _DEPTH[patch] = _DEPTH.get(patch, 0) + 1


def _leave(patch: Patch) -> None:
    _DEPTH[patch] -= 1
    if _DEPTH[patch] == 0:
        del _DEPTH[patch]
        _restore(_SAVED.pop(patch))


def _restore(saved: dict[Private, Any]) -> None:
    for private, original in saved.items():
        setattr(private.owner, private.name, original)


def status() -> list[dict]:
    """Every registered patch: {"name", "active", "reason"} (reason None when active), for the report."""
    return [{"name": patch.name, "active": (why := patch.reason()) is None, "reason": why}
            for patch in _registered()]


def warning() -> str | None:
    """One sentence naming the inactive patches and what the reader sees without them, or None."""
    inactive = [patch for patch in _registered() if not patch.active()]
    if not inactive:
        return None
    reasons = sorted({patch.reason() or "" for patch in inactive})
    effects = "; ".join(f"{patch.name}: {patch.without}" for patch in inactive)
    return (f"WeasyPrint extensions inactive ({'; '.join(reasons)}): {effects} "
            "(compile/writers/pdf/weasy/, docs/upgrading.md)")
