"""The tree-sitter grammars the Go and Rust readers parse with (Python's own `ast` reads Python)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any


class ScanError(RuntimeError):
    """The source cannot be read as expected: one line naming the file and what is missing."""


@functools.cache
def parser(language: str) -> Any:
    try:
        import tree_sitter
        if language == "go":
            import tree_sitter_go as grammar
        else:
            import tree_sitter_rust as grammar
    except ImportError as error:  # the refresh needs requirements-dev.txt
        raise ScanError(f"{error.name} is not installed: venv/bin/pip install -r requirements-dev.txt") from None
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def parse(language: str, source: bytes) -> Any:
    return parser(language).parse(source).root_node


def text(node: Any) -> str:
    return node.text.decode("utf-8", "replace")


def walk(node: Any, skip: frozenset[str] = frozenset()) -> Iterator[Any]:
    """Every node under `node` (itself included), depth first; subtrees of `skip` types are not entered."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current.type in skip and current is not node:
            continue
        stack.extend(reversed(current.children))


def line(node: Any) -> int:
    return node.start_point[0] + 1
