"""Strict YAML for stack files: what PyYAML accepts silently and a stack file must not hold.

* a key twice in one mapping (PyYAML keeps the last: a duplicate `prometheus:` block replaced prod's);
* more than MAX_ALIASES aliases or merge keys (an alias bomb turns kilobytes into a 20 MB prometheus.yml);
* nesting deeper than MAX_DEPTH (deep brackets end in a RecursionError);
* YAML 1.1 booleans other than true/false (`no`, `on`, `Yes`: `environment: no` is a boolean);
* explicit tags (`!!binary`, `!!python/...`, `!custom`): no setting is typed by a tag;
* timestamps: `2026-01-01` stays the string it looks like.

Each refusal is a StrictYamlError naming the line and the key, and how to fix it. Pure: no pulumi import.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_ALIASES = 20
MAX_DEPTH = 32
MAX_BYTES = 1_000_000
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STRICT_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")


class StrictYamlError(ValueError):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._path: list[str] = []
        self._tagged: dict[int, str] = {}

    # --- composition: aliases, depth, tags ------------------------------------------------------

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise StrictYamlError(line, f"more than {MAX_ALIASES} aliases (*name): write the values out, a "
                                            "stack file is no place for YAML references")
        tag = getattr(event, "tag", None)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise StrictYamlError(line, f"nesting deeper than {MAX_DEPTH} levels: no setting is that deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if tag not in (None, "!") and node is not None:
            self._tagged[id(node)] = tag  # refused when constructed, where the key path is known
        return node

    def _where(self) -> str:
        path = "".join(p if p.startswith("[") else f".{p}" for p in self._path).lstrip(".")
        return f"key `{path}`: " if path else ""

    def check_tag(self, node: Node) -> None:
        if id(node) in self._tagged:
            raise StrictYamlError(node.start_mark.line + 1, f"{self._where()}the tag {self._tagged[id(node)]} is not "
                                                            "allowed in a stack file: remove it (quote the value if "
                                                            "it is a string)")

    # --- construction: duplicates, booleans, timestamps -----------------------------------------

    def check_duplicates(self, node: MappingNode) -> None:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            self.check_tag(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (list, dict)):
                raise StrictYamlError(line, f"{self._where()}a key must be a plain value, not a "
                                            f"{type(key).__name__}")
            if key in seen:
                self._path.append(str(key))
                where = self._where()
                self._path.pop()
                raise StrictYamlError(line, f"{where}appears twice (first at line {seen[key]}): keep one (the "
                                            "Pulumi CLI refuses duplicate keys, other YAML readers keep the last)")
            seen[key] = line

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if isinstance(node, ScalarNode) and node.tag == _BOOL_TAG and not _STRICT_BOOL.fullmatch(node.value):
            raise StrictYamlError(node.start_mark.line + 1, f"{self._where()}`{node.value}` is a YAML 1.1 boolean: "
                                                            f"quote it ('{node.value}') for the string, or write "
                                                            "true or false")
        if isinstance(node, ScalarNode) and node.tag == _TIMESTAMP_TAG:
            return node.value
        return super().construct_object(node, deep=deep)


def _construct(loader: _Loader, node: Node) -> Any:
    """Depth-first, tracking the key path so that every message names its key."""
    loader.check_tag(node)
    if isinstance(node, MappingNode):
        loader.check_duplicates(node)  # before merges: a merged-in key may be overridden, a repeated one not
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            loader._path.append(str(key))
            try:
                out[key] = _construct(loader, value_node)
            finally:
                loader._path.pop()
        return out
    if isinstance(node, SequenceNode):
        items = []
        for i, child in enumerate(node.value):
            loader._path.append(f"[{i}]")
            try:
                items.append(_construct(loader, child))
            finally:
                loader._path.pop()
        return items
    return loader.construct_object(node, deep=True)


def load(text: str) -> Any:
    """The document in `text`, or StrictYamlError (yaml.YAMLError for what is not YAML at all)."""
    if len(text.encode()) > MAX_BYTES:
        raise StrictYamlError(None, f"larger than {MAX_BYTES // 1000} kB: a stack file is a few kilobytes")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _construct(loader, node)
    finally:
        loader.dispose()
