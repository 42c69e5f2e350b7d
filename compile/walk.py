"""Fast searches of a BeautifulSoup tree: what `find_all` and `find` do for plain tag names.

BeautifulSoup 4.13+ compiles a filter for every search call; on a page's tree that costs far more than the walk
itself (a `find_all(["p", "div"])` ~50 times a plain walk of `.descendants`). A saved page's plain reading
(compile/readers/html_page.py) searches so; cleaning, dating and typesetting work on lxml trees
(compile/pruning.py, compile/fragment.py). These walks give the same elements in the same (document) order, as
lists: callers change the tree while they go through the result, as they did with bs4's result sets.
"""

from __future__ import annotations

from collections.abc import Collection

from bs4 import Tag

from compile import fragment


def tags(root: Tag, names: str | Collection[str] | None = None, limit: int = 0) -> list[Tag]:
    """The tags under `root` named one of `names` (every tag for None), in document order; at most `limit`."""
    wanted = None if names is None else fragment.names(names)
    found = []
    for node in root.descendants:
        if isinstance(node, Tag) and (wanted is None or node.name in wanted):
            found.append(node)
            if len(found) == limit:
                break
    return found


def first(root: Tag, names: str | Collection[str] | None = None) -> Tag | None:
    """The first tag under `root` named one of `names` (`find`)."""
    found = tags(root, names, limit=1)
    return found[0] if found else None
