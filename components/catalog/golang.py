"""Reads a Go binary's metrics from its module: client_golang registrations and every write.

The binary is its main package and the module's packages it imports, transitively
(`_test.go` files left out). Registrations are `promauto.New<Kind>(prometheus.<Kind>Opts{...},
[]string{...})` (or `prometheus.New<Kind>` passed to `MustRegister`); writes are
`<handle>.Inc/Add/Set/Observe/...`, directly, through `WithLabelValues(...)`/`With(Labels{...})`,
through a local holding that child, or through `prometheus.NewTimer(...)`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from components.catalog.scan import ANY, Arg, Call, Function, Program, Registration, Write
from components.catalog.treesitter import ScanError, line, parse, text, walk

CONSTRUCTORS = {"NewCounter": "counter", "NewCounterVec": "counter", "NewGauge": "gauge", "NewGaugeVec": "gauge",
                "NewHistogram": "histogram", "NewHistogramVec": "histogram", "NewSummary": "summary",
                "NewSummaryVec": "summary", "NewGaugeFunc": "gauge", "NewCounterFunc": "counter"}
OPS = {"Inc": "inc", "Dec": "dec", "Add": "add", "Sub": "sub", "Set": "set", "SetToCurrentTime": "set",
       "Observe": "observe"}
LABELLED = {"WithLabelValues", "GetMetricWithLabelValues"}
NAMED = {"With", "GetMetricWith"}
CLIENT = "github.com/prometheus/client_golang/prometheus"
# client_golang's prometheus.DefBuckets.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def string_value(node: Any) -> str | None:
    if node.type == "interpreted_string_literal":
        return bytes(text(node)[1:-1], "utf-8").decode("unicode_escape")
    if node.type == "raw_string_literal":
        return text(node)[1:-1]
    return None


def _unwrap(node: Any) -> Any:
    while node.type in ("literal_element", "parenthesized_expression", "expression_list") and node.named_child_count == 1:
        node = node.named_children[0]
    return node


class Module:
    """The module's packages: import path -> its non-test files."""

    def __init__(self, root: Path) -> None:
        go_mod = root / "go.mod"
        if not go_mod.is_file():
            raise ScanError(f"{go_mod}: no go.mod (is --shannon a Shannon checkout?)")
        match = re.search(r"^module\s+(\S+)", go_mod.read_text(), re.M)
        if not match:
            raise ScanError(f"{go_mod}: no module line")
        self.root, self.path = root, match.group(1)
        self.trees: dict[Path, Any] = {}

    def package_files(self, import_path: str) -> list[Path]:
        rel = import_path.removeprefix(self.path).lstrip("/")
        directory = self.root / rel
        return sorted(p for p in directory.glob("*.go") if not p.name.endswith("_test.go"))

    def tree(self, path: Path) -> Any:
        if path not in self.trees:
            self.trees[path] = parse("go", path.read_bytes())
        return self.trees[path]

    def imports(self, path: Path) -> dict[str, str]:
        """Local name -> import path, for one file."""
        out: dict[str, str] = {}
        for spec in walk(self.tree(path)):
            if spec.type != "import_spec":
                continue
            target = string_value(spec.child_by_field_name("path"))
            name = spec.child_by_field_name("name")
            if target is None:
                continue
            alias = text(name) if name is not None else self.package_name(target)
            out[alias] = target
        return out

    def package_name(self, import_path: str) -> str:
        files = self.package_files(import_path) if import_path.startswith(self.path) else []
        for path in files:
            clause = next((c for c in self.tree(path).children if c.type == "package_clause"), None)
            if clause is not None:
                return text(clause.named_children[0])
        last = import_path.rsplit("/", 1)[-1]
        if re.fullmatch(r"v\d+", last):
            last = import_path.rsplit("/", 2)[-2]
        return last.replace("-", "_").removeprefix("go-")

    def closure(self, main: str) -> list[str]:
        """The main package and every package of the module it imports, transitively."""
        seen, order, todo = set(), [], [main]
        while todo:
            pkg = todo.pop()
            if pkg in seen:
                continue
            seen.add(pkg)
            order.append(pkg)
            for path in self.package_files(pkg):
                todo.extend(t for t in self.imports(path).values() if t.startswith(self.path + "/") or t == self.path)
        return sorted(order)


class _FileReader:
    """One file's functions, registrations and writes, into `program`."""

    def __init__(self, module: Module, program: Program, path: Path, unit: str, consts: dict[str, dict[str, str]],
                 shown: str, string_types: dict[str, frozenset[str]]) -> None:
        self.module, self.program, self.path, self.unit, self.consts = module, program, path, unit, consts
        self.file = shown
        self.string_types = string_types.get(unit, frozenset())
        self.imports = module.imports(path)
        self.client_aliases = {a for a, p in self.imports.items() if p in (CLIENT, CLIENT + "/promauto")}

    # --- names ------------------------------------------------------------------------------

    def handle(self, node: Any) -> str | None:
        """The unit-qualified variable or field a metric expression names, if it is one."""
        node = _unwrap(node)
        if node.type == "identifier":
            return f"{self.unit}.{text(node)}"
        if node.type == "selector_expression":
            operand, fieldname = node.child_by_field_name("operand"), text(node.child_by_field_name("field"))
            if operand.type == "identifier" and text(operand) in self.imports:
                return f"{self.imports[text(operand)]}.{fieldname}"
            return f"{self.unit}.{fieldname}"
        return None

    def const(self, node: Any) -> str | None:
        node = _unwrap(node)
        value = string_value(node)
        if value is not None:
            return value
        if node.type == "identifier":
            return self.consts.get(self.unit, {}).get(text(node))
        if node.type == "selector_expression":
            operand = node.child_by_field_name("operand")
            if operand.type == "identifier" and text(operand) in self.imports:
                return self.consts.get(self.imports[text(operand)], {}).get(text(node.child_by_field_name("field")))
        return None

    def refs(self, node: Any) -> set[tuple[str | None, str]]:
        """What a subtree names: functions of a package, methods, or (in strings) anything of that name."""
        out: set[tuple[str | None, str]] = set()
        for n in walk(node):
            parent = n.parent
            if n.type == "identifier":
                is_qualifier = parent is not None and parent.type == "selector_expression" \
                    and parent.child_by_field_name("operand") == n and text(n) in self.imports
                if not is_qualifier:
                    out.add((self.unit, text(n)))
            elif n.type == "field_identifier":
                operand = parent.child_by_field_name("operand") if parent is not None and \
                    parent.type == "selector_expression" else None
                if operand is not None and operand.type == "identifier" and text(operand) in self.imports:
                    out.add((self.imports[text(operand)], text(n)))
                else:
                    out.add((None, text(n)))
            elif n.type in ("interpreted_string_literal", "raw_string_literal"):
                value = string_value(n) or ""
                if IDENTIFIER.fullmatch(value):
                    out.add((ANY, value))
        return out

    # --- registrations ----------------------------------------------------------------------

    def registration(self, call: Any, target: Any, function: str | None) -> Registration | None:
        fn = call.child_by_field_name("function")
        if fn.type != "selector_expression":
            return None
        kind = CONSTRUCTORS.get(text(fn.child_by_field_name("field")))
        operand = fn.child_by_field_name("operand")
        root = operand.child_by_field_name("function") if operand.type == "call_expression" else operand
        while root is not None and root.type == "selector_expression":
            root = root.child_by_field_name("operand")
        if kind is None or root is None or text(root) not in self.client_aliases:
            return None
        args = [a for a in call.child_by_field_name("arguments").named_children if a.type != "comment"]
        opts = _unwrap(args[0]) if args else None
        if opts is None or opts.type != "composite_literal":
            return None
        fields: dict[str, Any] = {}
        for element in walk(opts.child_by_field_name("body"), skip=frozenset({"literal_value"})):
            if element.type == "keyed_element" and element.parent == opts.child_by_field_name("body"):
                key, value = element.named_children[0], element.named_children[-1]
                fields[text(key)] = _unwrap(value)
        name = "_".join(v for v in (self.const(fields[k]) if k in fields else "" for k in ("Namespace", "Subsystem", "Name"))
                        if v)
        if not name or "Name" not in fields or self.const(fields["Name"]) is None:
            raise ScanError(f"{self.file}:{line(call)}: a {kind} whose name is not a literal")
        labels: tuple[str, ...] = ()
        if len(args) > 1:
            labels = tuple(self.const(e) or "?" for e in walk(_unwrap(args[1])) if e.type == "literal_element")
        buckets = self.buckets(fields.get("Buckets")) if kind == "histogram" else None
        handle = self.handle(target) if target is not None else None
        if handle is None:
            return None
        help_node = fields.get("Help")
        return Registration(name, kind, labels, handle, self.file, line(call), buckets,
                            (self.const(help_node) or "") if help_node is not None else "", function)

    def buckets(self, node: Any) -> tuple[float, ...] | str:
        if node is None:
            return DEFAULT_BUCKETS
        if node.type == "selector_expression" and text(node.child_by_field_name("field")) == "DefBuckets":
            return DEFAULT_BUCKETS
        if node.type == "composite_literal":
            try:
                return tuple(float(text(e)) for e in walk(node.child_by_field_name("body")) if e.type == "literal_element")
            except ValueError:
                return "computed"
        if node.type == "call_expression":
            name = text(node.child_by_field_name("function")).rsplit(".", 1)[-1]
            try:
                a, b, n = (float(text(x)) for x in node.child_by_field_name("arguments").named_children)
            except ValueError:
                return "computed"
            if name == "ExponentialBuckets":
                return tuple(_round(a * b ** i) for i in range(int(n)))
            if name == "LinearBuckets":
                return tuple(_round(a + b * i) for i in range(int(n)))
        return "computed"

    # --- functions --------------------------------------------------------------------------

    def read(self) -> None:
        tree = self.module.tree(self.path)
        for node in tree.children:
            if node.type in ("function_declaration", "method_declaration"):
                self.function(node)
            elif node.type in ("var_declaration", "const_declaration"):
                for spec in walk(node):
                    if spec.type == "var_spec":
                        self.assignment(spec, None)
                self.program.top_refs |= self.refs(node)

    def function(self, node: Any) -> None:
        name = text(node.child_by_field_name("name"))
        params: list[str] = []
        for decl in node.child_by_field_name("parameters").named_children:
            params += [text(n) for n in decl.children_by_field_name("name")]
        key = f"{self.file}:{line(node)}:{name}"
        is_main = name == "main" and self.unit == self.program.name
        fn = Function(key, name, self.file, line(node), self.unit, method=node.type == "method_declaration",
                      entry=is_main or name == "init", params=tuple(params))
        body = node.child_by_field_name("body")
        if body is None:
            return
        self.program.functions[key] = fn
        locals_: dict[str, list[Any]] = {}  # a local -> every expression assigned to it
        aliases: dict[str, tuple[str, tuple[Arg, ...], tuple[tuple[str, Arg], ...]]] = {}
        # First the assignments (what locals may hold, children held in locals), then the uses.
        for n in walk(body):
            if n.type in ("short_var_declaration", "assignment_statement", "var_spec", "range_clause"):
                self.assignment(n, key, locals_, aliases, params)
        fn.refs = self.refs(body)
        results = node.child_by_field_name("result")
        if results is not None and results.type != "parameter_list":  # one unnamed result: what it returns
            fn.returns = tuple(self.arg(r.named_children[0], params, locals_) for r in walk(body, skip=frozenset(
                {"func_literal"})) if r.type == "return_statement" and r.named_child_count)
        for n in walk(body):
            if n.type == "call_expression":
                self.call(n, fn, params, locals_, aliases)

    def arg(self, node: Any, params: list[str], locals_: dict[str, list[Any]], depth: int = 0) -> Arg:
        """What an expression may be: literals, constants, a parameter, what a called function returns."""
        node = _unwrap(node)
        literal = self.const(node)
        if literal is not None and node.type != "identifier":
            return Arg(frozenset({literal}))
        if node.type == "identifier":
            name = text(node)
            param = params.index(name) if name in params else None
            assigned = [self.arg(rhs, params, locals_, depth + 1) for rhs in locals_.get(name, [])] \
                if depth < 4 else [Arg.unknown()]
            if literal is not None:
                assigned.append(Arg(frozenset({literal})))
            if not assigned:
                return Arg(param=param, dynamic=param is None)
            return Arg.union(*assigned, Arg(param=param))
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments").named_children
            if function.type in ("identifier", "type_identifier") and text(function) == "string" and len(args) == 1:
                return self.arg(args[0], params, locals_, depth)  # a conversion
            if function.type == "parenthesized_type" or (function.type == "identifier" and len(args) == 1
                                                         and text(function) in self.string_types):
                return self.arg(args[0], params, locals_, depth)  # a conversion to a named string type
            callee = function.child_by_field_name("field") if function.type == "selector_expression" else function
            if callee is not None and callee.type in ("identifier", "field_identifier") and text(callee) != "String":
                return Arg(calls=frozenset({text(callee)}))
        return Arg.unknown()

    def assignment(self, node: Any, function: str | None, locals_: dict[str, list[Any]] | None = None,
                   aliases: dict[str, Any] | None = None, params: list[str] | None = None) -> None:
        if node.type == "range_clause":  # `for k, v := range x`: nothing literal
            left = node.child_by_field_name("left").named_children if node.child_by_field_name("left") else []
            for target in left:
                if target.type == "identifier" and locals_ is not None:
                    locals_.setdefault(text(target), []).append(node)
            return
        if node.type == "var_spec":
            left = node.children_by_field_name("name")
            value = node.child_by_field_name("value")
            if value is None:  # `var s string`: the zero value, which the code assigns over before use
                return
            right = value.named_children
        else:
            left = node.child_by_field_name("left").named_children
            right = node.child_by_field_name("right").named_children
        for i, target in enumerate(left):
            rhs = _unwrap(right[i]) if i < len(right) and len(right) == len(left) else None
            if rhs is None:  # `a, err := f()`: not one expression per name
                if target.type == "identifier" and locals_ is not None:
                    locals_.setdefault(text(target), []).append(node)
                continue
            if rhs.type == "call_expression":
                reg = self.registration(rhs, target, function)
                if reg is not None:
                    self.program.registrations.append(reg)
                    continue
                child = self.labelled(rhs, params or [], locals_ or {})
                if child is not None and target.type == "identifier" and aliases is not None:
                    aliases[text(target)] = child
                    continue
            if target.type == "identifier" and locals_ is not None:
                locals_.setdefault(text(target), []).append(rhs)

    def labelled(self, node: Any, params: list[str], locals_: dict[str, list[Any]]) \
            -> tuple[str, tuple[Arg, ...], tuple[tuple[str, Arg], ...]] | None:
        """`<handle>.WithLabelValues(...)` or `<handle>.With(prometheus.Labels{...})`: the handle and label args."""
        fn = node.child_by_field_name("function")
        if fn.type != "selector_expression":
            return None
        method = text(fn.child_by_field_name("field"))
        handle = self.handle(fn.child_by_field_name("operand"))
        args = node.child_by_field_name("arguments").named_children
        if handle is None:
            return None
        if method in LABELLED:
            return handle, tuple(self.arg(a, params, locals_) for a in args), ()
        if method in NAMED and args and _unwrap(args[0]).type == "composite_literal":
            named = []
            for element in walk(_unwrap(args[0]).child_by_field_name("body")):
                if element.type == "keyed_element":
                    key = self.const(element.named_children[0])
                    if key is not None:
                        named.append((key, self.arg(element.named_children[-1], params, locals_)))
            return handle, (), tuple(named)
        return None

    def call(self, node: Any, fn: Function, params: list[str], locals_: dict[str, list[Any]],
             aliases: dict[str, Any]) -> None:
        function = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        arg_nodes = args.named_children if args is not None else []
        unit: str | None = self.unit
        if function.type == "selector_expression":
            callee = text(function.child_by_field_name("field"))
            qualifier = _unwrap(function.child_by_field_name("operand"))
            is_package = qualifier.type == "identifier" and text(qualifier) in self.imports
            unit = self.imports[text(qualifier)] if is_package else None
        else:
            callee = text(function)
        fn.calls.append(Call(callee, tuple(self.arg(a, params, locals_) for a in arg_nodes), line(node), unit=unit))
        if function.type != "selector_expression":
            return
        method = text(function.child_by_field_name("field"))
        operand = _unwrap(function.child_by_field_name("operand"))
        if method == "NewTimer" and operand.type == "identifier" and text(operand) in self.client_aliases and arg_nodes:
            target = _unwrap(arg_nodes[0])
            child = self.labelled(target, params, locals_) if target.type == "call_expression" else None
            if child is None and target.type == "identifier" and text(target) in aliases:
                child = aliases[text(target)]
            if child is None:
                handle = self.handle(target)
                child = (handle, (), ()) if handle else None
            if child is not None:
                self.program.writes.append(Write(child[0], self.file, line(node), "observe", fn.key, child[1], child[2]))
            return
        if method not in OPS:
            return
        child = None
        if operand.type == "call_expression":
            child = self.labelled(operand, params, locals_)
        elif operand.type == "identifier" and text(operand) in aliases:
            child = aliases[text(operand)]
        else:
            handle = self.handle(operand)
            child = (handle, (), ()) if handle else None
        if child is not None:
            self.program.writes.append(Write(child[0], self.file, line(node), OPS[method], fn.key, child[1], child[2]))


def _round(value: float) -> float:
    return float(f"{value:.6g}") if math.isfinite(value) else value


def package_consts(module: Module, packages: list[str]) -> dict[str, dict[str, str]]:
    """Package-level string constants and literal-valued variables, per package."""
    out: dict[str, dict[str, str]] = {}
    for pkg in packages:
        for path in module.package_files(pkg):
            for spec in walk(module.tree(path)):
                if spec.type not in ("const_spec", "var_spec") or spec.parent.parent.type == "block":
                    continue
                names = spec.children_by_field_name("name")
                value = spec.child_by_field_name("value")
                values = value.named_children if value is not None else []
                for name, val in zip(names, values, strict=False):
                    literal = string_value(_unwrap(val))
                    if literal is not None:
                        out.setdefault(pkg, {})[text(name)] = literal
    return out


def read_program(checkout: Path, module_dir: str, main_dir: str, name: str,
                 services: dict[str, frozenset[str]] | None = None) -> Program:
    """The program built from `<module_dir>/<main_dir>`: its functions, registrations and writes. `services`
    maps each gRPC service to its methods: generated code (Shannon does not commit it) calls them on the
    server a running `Register<Service>Server(...)` registers."""
    module = Module(checkout / module_dir)
    main = module.path + ("/" + main_dir.strip("/") if main_dir.strip("/.") else "")
    if not module.package_files(main):
        raise ScanError(f"{checkout / module_dir / main_dir}: no Go files of a main package")
    program = Program(main, callbacks={f"Register{s}Server": m for s, m in (services or {}).items()})
    packages = module.closure(main)
    consts = package_consts(module, packages)
    string_types = {pkg: frozenset(text(spec.child_by_field_name("name")) for path in module.package_files(pkg)
                                   for spec in walk(module.tree(path)) if spec.type == "type_spec"
                                   and text(spec.child_by_field_name("type")) == "string") for pkg in packages}
    for pkg in packages:
        for path in module.package_files(pkg):
            _FileReader(module, program, path, pkg, consts, str(path.relative_to(checkout)), string_types).read()
    program.name = name
    return program
