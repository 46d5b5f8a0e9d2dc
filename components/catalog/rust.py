"""Reads a Rust crate's metrics: `prometheus` crate registrations and every write.

The crate is its `src/main.rs` and `src/lib.rs` and the modules they declare (`mod x;` and
inline modules), leaving out `#[cfg(test)]` modules and the `tests/`, `benches/` and
`examples/` targets. Registrations are the `register_<kind>!` macros, stored in a static
(`STATIC.set(register_...!(...)?)`, `let m = register_...!(...); STATIC.set(m)`, or
`static S: Lazy<_> = Lazy::new(|| register_...!(...))`); writes are `.inc()`, `.inc_by()`,
`.set()`, `.observe()`, ... on the static or on a local bound from it (`if let Some(m) =
STATIC.get()`), with label values from `.with_label_values(&[...])`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from components.catalog.scan import ANY, Arg, Call, Function, Program, Registration, Write
from components.catalog.treesitter import ScanError, line, parse, text, walk

MACROS = re.compile(r"register_(int_)?(counter|gauge|histogram)(_vec)?")
OPS = {"inc": "inc", "inc_by": "add", "dec": "dec", "dec_by": "sub", "add": "add", "sub": "sub", "set": "set",
       "observe": "observe", "start_timer": "observe", "observe_closure_duration": "observe"}
# The prometheus crate's DEFAULT_BUCKETS (the same bounds as client_golang's).
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
PASS_THROUGH = {"as_str", "to_string", "as_ref", "to_owned", "clone", "into"}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _string(node: Any) -> str | None:
    if node.type in ("string_literal", "raw_string_literal"):
        content = [c for c in node.children if c.type == "string_content"]
        return text(content[0]) if content else ""
    return None


def _is_test(node: Any) -> bool:
    """An item under `#[cfg(test)]` or `#[test]`."""
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type == "attribute_item":
        attribute = text(sibling).replace(" ", "")
        if attribute in ("#[cfg(test)]", "#[test]") or attribute.startswith("#[tokio::test"):
            return True
        sibling = sibling.prev_named_sibling
    return False


def _binds(pattern: Any, name: str) -> bool:
    return any(n.type == "identifier" and text(n) == name for n in walk(pattern))


def _binding(use: Any) -> Any | None:
    """The expression the local `use` names is bound to, by the nearest `let`, `if let` or match arm in scope."""
    name = text(use)
    child, current = use, use.parent
    while current is not None and current.type != "function_item":
        if current.type in ("if_expression", "while_expression") and child == current.child_by_field_name("consequence"):
            for cond in walk(current.child_by_field_name("condition")):
                if cond.type == "let_condition" and _binds(cond.child_by_field_name("pattern"), name):
                    return cond.child_by_field_name("value")
        if current.type == "match_arm" and _binds(current.child_by_field_name("pattern"), name):
            match = current.parent.parent
            return match.child_by_field_name("value") if match is not None else None
        if current.type == "block":
            found = None
            for statement in current.named_children:
                if statement.start_byte >= use.start_byte:
                    break
                if statement.type == "let_declaration" and _binds(statement.child_by_field_name("pattern"), name):
                    found = statement.child_by_field_name("value")
            if found is not None:
                return found
        child, current = current, current.parent
    return None


class Crate:
    def __init__(self, root: Path) -> None:
        if not (root / "Cargo.toml").is_file():
            raise ScanError(f"{root}: no Cargo.toml (is --shannon a Shannon checkout?)")
        self.root = root
        self.files: list[tuple[Path, Any]] = []  # every file of the crate with its tree

    def load(self) -> None:
        for top in ("src/main.rs", "src/lib.rs"):
            if (self.root / top).is_file():
                self._module(self.root / top, (self.root / top).parent, top.endswith("lib.rs") or top.endswith("main.rs"))
        if not self.files:
            raise ScanError(f"{self.root}: neither src/main.rs nor src/lib.rs")

    def _module(self, path: Path, directory: Path, crate_root: bool) -> None:
        if any(p == path for p, _ in self.files):
            return
        tree = parse("rust", path.read_bytes())
        self.files.append((path, tree))
        # A module file x.rs declares its children in x/; mod.rs, main.rs and lib.rs in their own directory.
        here = directory if crate_root or path.name == "mod.rs" else directory / path.stem
        for item in walk(tree, skip=frozenset({"declaration_list", "function_item"})):
            if item.type == "mod_item" and item.child_by_field_name("body") is None and not _is_test(item):
                name = text(item.child_by_field_name("name"))
                for candidate in (here / f"{name}.rs", here / name / "mod.rs"):
                    if candidate.is_file():
                        self._module(candidate, here, False)
                        break


class _FileReader:
    def __init__(self, program: Program, path: Path, tree: Any, shown: str, statics: dict[str, str]) -> None:
        self.program, self.path, self.tree, self.file, self.statics = program, path, tree, shown, statics

    def read(self) -> None:
        for node in walk(self.tree, skip=frozenset({"function_item"})):
            if node.type == "mod_item" and _is_test(node):
                continue
            if node.type == "function_item" and not self._in_test(node):
                self.function(node)
            elif node.type == "static_item":
                value = node.child_by_field_name("value")
                if value is not None:
                    for macro in walk(value):
                        if macro.type == "macro_invocation":
                            self.registration(macro, text(node.child_by_field_name("name")), None)
                    for ident in walk(value):
                        if ident.type == "identifier":
                            self.program.top_refs.add((ANY, text(ident)))

    def _in_test(self, node: Any) -> bool:
        current = node
        while current is not None:
            if current.type in ("mod_item", "function_item") and _is_test(current):
                return True
            current = current.parent
        return False

    def registration(self, macro: Any, handle: str | None, function: str | None,
                     locals_: dict[str, str] | None = None) -> None:
        match = MACROS.fullmatch(text(macro.child_by_field_name("macro")) if macro.child_by_field_name("macro") else "")
        if not match:
            return
        tokens = next(c for c in macro.children if c.type == "token_tree")
        strings = [_string(c) for c in tokens.children if _string(c) is not None]
        groups = [c for c in tokens.children if c.type == "token_tree"]
        if not strings:
            raise ScanError(f"{self.file}:{line(macro)}: a {match.group(0)}! whose name is not a literal")
        kind = match.group(2)
        labels: tuple[str, ...] = ()
        if match.group(3) and groups:
            labels = tuple(s for s in (_string(c) for c in groups[0].children) if s is not None)
        buckets: tuple[float, ...] | str | None = None
        if kind == "histogram":
            buckets = DEFAULT_BUCKETS
            if len(groups) > (1 if match.group(3) else 0):
                numbers = re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text(groups[-1]))
                buckets = tuple(float(n) for n in numbers) or "computed"
        if handle is None:
            handle = self._stored_in(macro, locals_ or {})
        if handle is None:
            return
        # The prometheus crate exposes every family under the name it was given (no _total added).
        self.program.registrations.append(Registration(strings[0], kind, labels, handle, self.file, line(macro), buckets,
                                                       strings[1] if len(strings) > 1 else "", function))

    def _stored_in(self, macro: Any, locals_: dict[str, str]) -> str | None:
        """The static a registration ends up in: `S.set(<macro>...)`, or a `let` that `S.set(local)` stores."""
        current = macro.parent
        while current is not None and current.type not in ("function_item", "block"):
            if current.type == "call_expression":
                fn = current.child_by_field_name("function")
                if fn.type == "field_expression" and text(fn.child_by_field_name("field")) == "set":
                    target = fn.child_by_field_name("value")
                    if target.type == "identifier" and text(target) in self.statics:
                        return text(target)
            if current.type == "let_declaration":
                pattern = current.child_by_field_name("pattern")
                if pattern is not None and pattern.type == "identifier":
                    return locals_.get(text(pattern))
            current = current.parent
        return None

    def function(self, node: Any) -> None:
        name = text(node.child_by_field_name("name"))
        params = [text(p.child_by_field_name("pattern")) for p in node.child_by_field_name("parameters").named_children
                  if p.type == "parameter"]
        impl = node.parent.parent if node.parent is not None and node.parent.type == "declaration_list" else None
        trait_impl = impl is not None and impl.type == "impl_item" and impl.child_by_field_name("trait") is not None
        is_main = name == "main" and self.path.name == "main.rs"
        key = f"{self.file}:{line(node)}:{name}"
        fn = Function(key, name, self.file, line(node), self.file, entry=is_main or trait_impl, params=tuple(params))
        self.program.functions[key] = fn
        body = node.child_by_field_name("body")
        if body is None:
            return
        # Locals: `let x = S.set(...)`-style stores first (registrations into statics), then aliases of statics.
        stores: dict[str, str] = {}
        for call in walk(body):
            if call.type == "call_expression":
                f = call.child_by_field_name("function")
                args = call.child_by_field_name("arguments").named_children
                if (f.type == "field_expression" and text(f.child_by_field_name("field")) == "set" and args
                        and f.child_by_field_name("value").type == "identifier"
                        and text(f.child_by_field_name("value")) in self.statics and args[0].type == "identifier"):
                    stores[text(args[0])] = text(f.child_by_field_name("value"))
        for macro in walk(body):
            if macro.type == "macro_invocation":
                self.registration(macro, None, key, stores)
        literals: dict[str, set[str]] = {}
        for binding in walk(body):
            if binding.type == "let_declaration":
                pattern, value = binding.child_by_field_name("pattern"), binding.child_by_field_name("value")
                if pattern is not None and value is not None and pattern.type == "identifier":
                    values = self._literals(value)
                    if values:
                        literals.setdefault(text(pattern), set()).update(values)
        for n in walk(body):
            if n.type in ("identifier", "field_identifier", "type_identifier"):
                fn.refs.add((ANY, text(n)))
            elif n.type == "call_expression":
                self.call(n, fn, params, literals)

    def _literals(self, value: Any) -> set[str]:
        """The string literals an `if`/`match` (or a plain literal) evaluates to; empty if any arm is not one."""
        value = value.named_children[0] if value.type == "parenthesized_expression" else value
        literal = _string(value)
        if literal is not None:
            return {literal}
        if value.type in ("if_expression", "match_expression"):
            arms = [n for n in walk(value) if n.parent is not None and n.parent.type in ("block", "match_arm")
                    and n.type in ("string_literal",)]
            return {_string(a) or "" for a in arms}
        return set()

    def arg(self, node: Any, params: list[str], literals: dict[str, set[str]]) -> Arg:
        while True:
            if node.type == "reference_expression":
                node = node.child_by_field_name("value")
            elif node.type == "call_expression" and node.child_by_field_name("function").type == "field_expression" \
                    and text(node.child_by_field_name("function").child_by_field_name("field")) in PASS_THROUGH:
                node = node.child_by_field_name("function").child_by_field_name("value")
            else:
                break
        literal = _string(node)
        if literal is not None:
            return Arg(frozenset({literal}))
        if node.type == "identifier":
            name = text(node)
            values = literals.get(name, set())
            param = params.index(name) if name in params else None
            return Arg(frozenset(values), param, not values and param is None)
        if node.type == "field_expression" and text(node.child_by_field_name("value")) == "self":
            return Arg.unknown()
        return Arg.unknown()

    def child(self, node: Any, params: list[str], literals: dict[str, set[str]], depth: int = 0) \
            -> tuple[str, tuple[Arg, ...]] | None:
        """The static (and label values) an expression evaluates to a metric of, if it does."""
        labels: tuple[Arg, ...] = ()
        current = node
        while True:
            if current.type in ("try_expression", "reference_expression", "parenthesized_expression"):
                current = current.named_children[0]
            elif current.type == "call_expression" and current.child_by_field_name("function").type == "field_expression":
                fn = current.child_by_field_name("function")
                method = text(fn.child_by_field_name("field"))
                if method == "with_label_values":
                    args = current.child_by_field_name("arguments").named_children
                    array = args[0] if args else None
                    while array is not None and array.type == "reference_expression":
                        array = array.child_by_field_name("value")
                    if array is not None and array.type == "array_expression":
                        labels = tuple(self.arg(e, params, literals) for e in array.named_children)
                elif method not in ("get", "unwrap", "expect", "as_ref", "clone"):
                    return None
                current = fn.child_by_field_name("value")
            elif current.type == "identifier":
                name = text(current)
                bound = _binding(current) if depth < 4 else None
                if bound is not None:
                    inner = self.child(bound, params, literals, depth + 1)
                    return (inner[0], labels or inner[1]) if inner is not None else None
                if name in self.statics:
                    return name, labels
                return None
            else:
                return None

    def call(self, node: Any, fn: Function, params: list[str], literals: dict[str, set[str]]) -> None:
        function = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        arg_nodes = args.named_children if args is not None else []
        if function.type == "field_expression":
            callee = text(function.child_by_field_name("field"))
        elif function.type == "scoped_identifier":
            callee = text(function.child_by_field_name("name"))
        else:
            callee = text(function)
        fn.calls.append(Call(callee, tuple(self.arg(a, params, literals) for a in arg_nodes), line(node)))
        if function.type != "field_expression" or callee not in OPS:
            return
        receiver = function.child_by_field_name("value")
        root = receiver
        while root.type in ("call_expression", "field_expression", "try_expression"):
            inner = root.child_by_field_name("function") if root.type == "call_expression" else root
            root = inner.child_by_field_name("value") if inner.type == "field_expression" else inner.named_children[0]
        # `STATIC.set(m)` on a OnceLock stores the metric: only a metric reached through `.get()` is written.
        if root.type == "identifier" and text(root) in self.statics and "OnceLock" in self.statics[text(root)] \
                and ".get()" not in text(receiver):
            return
        child = self.child(receiver, params, literals)
        if child is not None:
            self.program.writes.append(Write(child[0], self.file, line(node), OPS[callee], fn.key, child[1]))


def read_program(checkout: Path, crate_dir: str, name: str) -> Program:
    crate = Crate(checkout / crate_dir)
    crate.load()
    program = Program(name)
    statics: dict[str, str] = {}
    for _path, tree in crate.files:
        for item in walk(tree, skip=frozenset({"function_item"})):
            if item.type == "static_item":
                statics[text(item.child_by_field_name("name"))] = text(item.child_by_field_name("type"))
    for path, tree in crate.files:
        _FileReader(program, path, tree, str(path.relative_to(checkout)), statics).read()
    return program
