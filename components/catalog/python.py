"""Reads a Python service's metrics: prometheus_client registrations and every write.

The service is its entry module and the modules of the service's own tree it imports,
transitively (imports inside functions included; the `tests/` tree left out). Registrations
are `Counter(...)`, `Gauge(...)`, `Histogram(...)`, `Summary(...)`, `Info(...)` of
prometheus_client (under any alias) assigned to a name; writes are `.inc()`, `.set()`,
`.observe()`, `.info()`, ... on that name, directly or through `.labels(...)`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from components.catalog.scan import ANY, Arg, Call, Function, Program, Registration, Write
from components.catalog.treesitter import ScanError

KINDS = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary", "Info": "info"}
OPS = {"inc": "inc", "dec": "dec", "set": "set", "observe": "observe", "info": "set", "set_to_current_time": "set",
       "time": "observe", "count_exceptions": "inc", "track_inprogress": "set", "set_function": "set"}
# prometheus_client's Histogram.DEFAULT_BUCKETS, without +Inf.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def exposed_name(kind: str, name: str) -> str:
    """The family name prometheus_client exposes: counters end in _total, info metrics in _info."""
    if kind == "counter":
        return name.removesuffix("_total") + "_total"
    if kind == "info":
        return name + "_info"
    return name


def _literals(node: ast.AST) -> set[str] | None:
    """The strings an expression evaluates to, if each is a literal (conditionals followed)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        a, b = _literals(node.body), _literals(node.orelse)
        return a | b if a is not None and b is not None else None
    return None


class Service:
    def __init__(self, root: Path, entry: str) -> None:
        if not (root / entry).is_file():
            raise ScanError(f"{root / entry}: no such file (is --shannon a Shannon checkout?)")
        self.root, self.entry = root, entry
        self.modules: dict[str, tuple[Path, ast.Module]] = {}

    def module_path(self, dotted: str) -> Path | None:
        base = self.root.joinpath(*dotted.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file() and "tests" not in candidate.relative_to(self.root).parts:
                return candidate
        return None

    def load(self) -> None:
        todo = [(self.entry.removesuffix(".py").replace("/", "."), self.root / self.entry)]
        while todo:
            name, path = todo.pop()
            if name in self.modules:
                continue
            try:
                tree = ast.parse(path.read_text(), str(path))
            except SyntaxError as error:
                raise ScanError(f"{path}:{error.lineno}: not Python: {error.msg}") from None
            self.modules[name] = (path, tree)
            package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
            for node in ast.walk(tree):
                targets: list[str] = []
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        parts = package.split(".")
                        up = parts[: len(parts) - node.level + 1] if node.level > 1 else parts
                        base = ".".join([*up, base] if base else up)
                    targets = [base] + [f"{base}.{a.name}" for a in node.names]
                for target in targets:
                    # Every parent package runs its __init__ too.
                    pieces = target.split(".")
                    for i in range(1, len(pieces) + 1):
                        dotted = ".".join(pieces[:i])
                        found = self.module_path(dotted)
                        if found is not None and dotted not in self.modules:
                            todo.append((dotted, found))


class _ModuleReader:
    def __init__(self, program: Program, module: str, path: Path, tree: ast.Module, shown: str,
                 handles: dict[str, str]) -> None:
        self.program, self.module, self.path, self.tree, self.file = program, module, path, tree, shown
        self.handles = handles  # variable name -> handle, for every registration of the program
        self.kinds: dict[str, str] = {}  # local names of prometheus_client's metric classes
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client":
                for alias in node.names:
                    if alias.name in KINDS:
                        self.kinds[alias.asname or alias.name] = KINDS[alias.name]

    # --- registrations (first pass) ------------------------------------------------------

    def registrations(self) -> None:
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
                continue
            call = node.value
            kind = self._kind(call.func)
            if kind is None:
                continue
            target = node.targets[0]
            variable = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else None
            if variable is None or not call.args or _literals(call.args[0]) is None:
                raise ScanError(f"{self.file}:{node.lineno}: a {kind} whose name or variable the scan cannot read")
            name = next(iter(_literals(call.args[0]) or {""}))
            keywords = {k.arg: k.value for k in call.keywords if k.arg}
            label_node = keywords.get("labelnames") or (call.args[2] if len(call.args) > 2 else None)
            labels: tuple[str, ...] = ()
            if isinstance(label_node, ast.List | ast.Tuple):
                labels = tuple(e.value for e in label_node.elts if isinstance(e, ast.Constant))
            buckets: tuple[float, ...] | str | None = None
            if kind == "histogram":
                bucket_node = keywords.get("buckets")
                if bucket_node is None:
                    buckets = DEFAULT_BUCKETS
                elif isinstance(bucket_node, ast.List | ast.Tuple) and all(
                        isinstance(e, ast.Constant) for e in bucket_node.elts):
                    buckets = tuple(float(e.value) for e in bucket_node.elts)  # type: ignore[attr-defined]
                else:
                    buckets = "computed"
            help_node = call.args[1] if len(call.args) > 1 else keywords.get("documentation")
            help_text = next(iter(_literals(help_node) or {""})) if help_node is not None else ""
            handle = f"{self.module}.{variable}"
            self.handles[variable] = handle
            self.program.registrations.append(Registration(exposed_name(kind, name), kind, labels, handle, self.file,
                                                           node.lineno, buckets, help_text))

    def _kind(self, func: ast.AST) -> str | None:
        if isinstance(func, ast.Name):
            return self.kinds.get(func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "prometheus_client":
            return KINDS.get(func.attr)
        return None

    # --- functions (second pass) ---------------------------------------------------------

    def read(self) -> None:
        functions: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, bool]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ClassDef):
                functions += [(n, True) for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        methods = {id(n) for n, _ in functions}
        functions += [(n, False) for n in ast.walk(self.tree)
                      if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and id(n) not in methods]
        inner = {id(sub) for fn, _ in functions for sub in ast.walk(fn) if sub is not fn
                 and isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef)}
        for fn, is_method in functions:
            if id(fn) not in inner:  # a nested function is part of the function it is defined in
                self.function(fn, is_method)
        # Module-level code (and class bodies) runs at import.
        for node in self.tree.body:
            self._top_level(node)

    def _top_level(self, node: ast.stmt) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                self._refs(decorator, self.program.top_refs)
            return
        if isinstance(node, ast.ClassDef):
            for sub in node.body:
                self._top_level(sub)
            for base in node.bases:
                self._refs(base, self.program.top_refs)
            return
        self._refs(node, self.program.top_refs)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                write = self._write(sub, None, [], {})
                if write is not None:
                    self.program.writes.append(write)

    @staticmethod
    def _refs(node: ast.AST, into: set[tuple[str | None, str]]) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                into.add((ANY, sub.id))
            elif isinstance(sub, ast.Attribute):
                into.add((ANY, sub.attr))
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and IDENTIFIER.fullmatch(sub.value):
                into.add((ANY, sub.value))

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> None:
        args = node.args
        params = [a.arg for a in [*args.posonlyargs, *args.args]]
        if is_method and params and params[0] in ("self", "cls") and not any(
                isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list):
            params = params[1:]
        params += [a.arg for a in args.kwonlyargs]
        key = f"{self.file}:{node.lineno}:{node.name}"
        dunder = node.name.startswith("__") and node.name.endswith("__")
        fn = Function(key, node.name, self.file, node.lineno, self.module, entry=bool(node.decorator_list) or dunder,
                      params=tuple(params))
        self.program.functions[key] = fn
        locals_: dict[str, set[str]] = {}
        dynamic: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Name):
                        values = _literals(sub.value)
                        if values is None:
                            dynamic.add(target.id)
                        else:
                            locals_.setdefault(target.id, set()).update(values)
        body = [*node.body]
        for statement in body:
            self._refs(statement, fn.refs)
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Call):
                continue
            callee = sub.func.attr if isinstance(sub.func, ast.Attribute) else sub.func.id \
                if isinstance(sub.func, ast.Name) else ""
            fn.calls.append(Call(callee, tuple(self.arg(a, params, locals_, dynamic) for a in sub.args), sub.lineno,
                                 tuple((k.arg, self.arg(k.value, params, locals_, dynamic)) for k in sub.keywords if k.arg)))
            write = self._write(sub, fn.key, params, locals_, dynamic)
            if write is not None:
                self.program.writes.append(write)

    def arg(self, node: ast.AST, params: list[str], locals_: dict[str, set[str]], dynamic: set[str]) -> Arg:
        literal = _literals(node)
        if literal is not None:
            return Arg(frozenset(literal))
        if isinstance(node, ast.Name):
            values = locals_.get(node.id, set())
            param = params.index(node.id) if node.id in params else None
            return Arg(frozenset(values), param, node.id in dynamic or (not values and param is None))
        return Arg.unknown()

    def handle(self, node: ast.AST) -> str | None:
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        return self.handles.get(name) if name else None

    def _write(self, call: ast.Call, function: str | None, params: list[str], locals_: dict[str, set[str]],
               dynamic: set[str] | None = None) -> Write | None:
        if not isinstance(call.func, ast.Attribute) or call.func.attr not in OPS:
            return None
        receiver = call.func.value
        positional: tuple[Arg, ...] = ()
        named: tuple[tuple[str, Arg], ...] = ()
        if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute) and receiver.func.attr == "labels":
            dyn = dynamic or set()
            positional = tuple(self.arg(a, params, locals_, dyn) for a in receiver.args)
            named = tuple((k.arg, self.arg(k.value, params, locals_, dyn)) for k in receiver.keywords if k.arg)
            receiver = receiver.func.value
        handle = self.handle(receiver)
        if handle is None:
            return None
        return Write(handle, self.file, call.lineno, OPS[call.func.attr], function, positional, named)


def read_program(checkout: Path, service_dir: str, entry: str, name: str) -> Program:
    service = Service(checkout / service_dir, entry)
    service.load()
    program = Program(name)
    handles: dict[str, str] = {}
    readers = [_ModuleReader(program, module, path, tree, str(path.relative_to(checkout)), handles)
               for module, (path, tree) in sorted(service.modules.items())]
    for reader in readers:
        reader.registrations()
    for reader in readers:
        reader.read()
    return program
