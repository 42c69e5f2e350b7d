"""Fast searches of a BeautifulSoup tree: what `find_all`, `find` and `find_parent` do for plain tag names.

BeautifulSoup 4.13+ compiles a filter for every search call; on the small trees of an article that costs far more
than the walk itself (a `find_all(["p", "div"])` ~50 times a plain walk of `.descendants`), and cleaning, dating
and typesetting search each article some hundred times. These walks give the same elements in the same (document)
order, as lists: callers change the tree while they go through the result, as they did with bs4's result sets.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from bs4 import NavigableString, PageElement, Tag


def _names(names: str | Collection[str]) -> Collection[str]:
    return (names,) if isinstance(names, str) else names


def tags(root: Tag, names: str | Collection[str] | None = None, limit: int = 0) -> list[Tag]:
    """The tags under `root` named one of `names` (every tag for None), in document order; at most `limit`."""
    wanted = None if names is None else _names(names)
    found = []
    for node in root.descendants:
        if isinstance(node, Tag) and (wanted is None or node.name in wanted):
            found.append(node)
            if len(found) == limit:
                break
    return found


def children(root: Tag, names: str | Collection[str]) -> list[Tag]:
    """The direct children of `root` named one of `names` (`find_all(names, recursive=False)`)."""
    wanted = _names(names)
    return [node for node in root.children if isinstance(node, Tag) and node.name in wanted]


def first(root: Tag, names: str | Collection[str] | None = None) -> Tag | None:
    """The first tag under `root` named one of `names` (`find`)."""
    wanted = None if names is None else _names(names)
    return next((node for node in root.descendants
                 if isinstance(node, Tag) and (wanted is None or node.name in wanted)), None)


def strings(root: Tag) -> list[NavigableString]:
    """Every string under `root`, comments included, as `find_all(string=True)` gives them."""
    return [node for node in root.descendants if isinstance(node, NavigableString)]


def ancestor(node: PageElement, names: str | Collection[str]) -> Tag | None:
    """The nearest enclosing tag named one of `names` (`find_parent`)."""
    wanted = _names(names)
    return next((parent for parent in _parents(node) if parent.name in wanted), None)


def _parents(node: PageElement) -> Iterable[Tag]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent
