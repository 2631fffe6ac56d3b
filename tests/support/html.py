"""Read a rendered page the way a user reads it: the text of an element, the cells of a table (found by
``data-testid``), whitespace collapsed. The standard library's parser only; no browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Element:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Element | str] = []

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"\s+", " ", " ".join(parts)).strip()

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        for child in self.children:
            if isinstance(child, _Element):
                yield from child.walk()


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _find(html: str, testid: str) -> list[_Element]:
    tree = _Tree()
    tree.feed(html)
    return [e for e in tree.root.walk() if e.attrs.get("data-testid") == testid]


def texts(html: str, testid: str) -> list[str]:
    """The text of every element marked ``data-testid=testid``, in page order."""
    return [element.text() for element in _find(html, testid)]


def text(html: str, testid: str) -> str:
    """The text of the one element marked ``data-testid=testid``."""
    found = texts(html, testid)
    assert len(found) == 1, f"{len(found)} elements with data-testid={testid!r}"
    return found[0]


def tables(html: str, testid: str) -> list[list[list[str]]]:
    """Every table marked ``data-testid=testid``: its rows (head, body and foot), each a list of cell texts."""
    return [
        [[cell.text() for cell in row.walk() if cell.tag in ("td", "th")] for row in element.walk() if row.tag == "tr"]
        for element in _find(html, testid)
    ]


def table(html: str, testid: str) -> list[list[str]]:
    """The rows of the one table marked ``data-testid=testid``."""
    found = tables(html, testid)
    assert len(found) == 1, f"{len(found)} tables with data-testid={testid!r}"
    return found[0]


def attribute(html: str, testid: str, name: str) -> str | None:
    """Attribute ``name`` of the one element marked ``data-testid=testid`` (a link's ``href``)."""
    found = _find(html, testid)
    assert len(found) == 1, f"{len(found)} elements with data-testid={testid!r}"
    return found[0].attrs.get(name)
