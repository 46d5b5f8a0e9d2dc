"""What a program's source says about its metrics, in one model for Go, Rust and Python.

The language readers (`golang`, `rust`, `python`) turn a checkout into a `Program`: the
functions of the units compiled into one binary (with the names each one references and
the calls it makes), the metric families registered, and every place a family is written.
This module then answers, the same way for every language:

* which functions can run: reached from the program's entry points (main, init, handlers
  and trait or framework callbacks, module-level code) through name references. Matching
  is by name, so a function is kept alive by any reference to its name (or a string equal
  to it, as Temporal registers activities): this errs towards "written", never towards
  "never written" for a function that really runs;
* which families are written: those with a write site in a function that can run, or in
  code that runs at start-up;
* which label values are written where the code spells them: literals, literal-valued
  locals and constants, followed through helper parameters to the helpers' callers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# A label value the scan cannot spell: computed at run time (a model name, an error string).
DYNAMIC = "*"
# A reference that may name a function of any unit, or a method (names in strings, dynamic languages).
ANY = "*"
# How far a label value is followed through helper parameters.
MAX_DEPTH = 6


@dataclass(frozen=True)
class Arg:
    """An argument as written: the literal strings it may be, and/or the enclosing function's parameter it passes on."""

    literals: frozenset[str] = frozenset()
    param: int | None = None
    dynamic: bool = False  # some value of it is not a literal the scan can read
    calls: frozenset[str] = frozenset()  # functions whose return values it is

    @staticmethod
    def unknown() -> Arg:
        return Arg(dynamic=True)

    @staticmethod
    def union(*args: Arg) -> Arg:
        params = {a.param for a in args if a.param is not None}
        return Arg(frozenset().union(*(a.literals for a in args)), min(params) if len(params) == 1 else None,
                   any(a.dynamic for a in args) or len(params) > 1, frozenset().union(*(a.calls for a in args)))


@dataclass(frozen=True)
class Call:
    callee: str  # the called function's own name (the last identifier of `a.b.Name(...)`)
    args: tuple[Arg, ...]
    line: int
    named: tuple[tuple[str, Arg], ...] = ()  # keyword arguments (Python)
    unit: str | None = None  # the callee's unit for a function call (`pkg.Name(...)`, `Name(...)`); None: a method call


@dataclass
class Function:
    key: str  # "<file>:<line>:<name>", unique in a program
    name: str
    file: str
    line: int
    unit: str = ""  # package or module
    method: bool = True  # False: a plain function, called only as `Name(...)` or `<unit>.Name(...)`
    entry: bool = False  # run by the runtime or a framework, whoever references it
    params: tuple[str, ...] = ()  # as a call passes them (without a method's self)
    returns: tuple[Arg, ...] | None = None  # what its return statements return (functions of one result)
    # What the body names: (unit, name) a plain function of that unit, (None, name) a method, (ANY, name) either.
    refs: set[tuple[str | None, str]] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)


@dataclass(frozen=True)
class Registration:
    name: str  # the family's name as exposed (counters with their _total)
    type: str  # counter, gauge, histogram, summary, info
    labels: tuple[str, ...]
    handle: str  # how the code refers to it: "<unit>.<variable>"
    file: str
    line: int
    buckets: tuple[float, ...] | str | None = None  # the bucket bounds, or a name such as "default"
    help: str = ""
    function: str | None = None  # the function registering it (None: at module or package level)


@dataclass(frozen=True)
class Write:
    handle: str
    file: str
    line: int
    op: str  # inc, add, set, observe, ...
    function: str | None  # key of the enclosing function; None: module or package level (runs at import)
    labels: tuple[Arg, ...] = ()  # positional label values, in registration order
    named: tuple[tuple[str, Arg], ...] = ()  # label values given by name


@dataclass
class Program:
    """One binary: what it registers, where it writes, and its functions."""

    name: str
    functions: dict[str, Function] = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    top_refs: set[tuple[str | None, str]] = field(default_factory=set)  # named outside any function (run at start-up)
    # Methods a framework calls once running code names the trigger: `RegisterXServer` -> the service's RPCs.
    callbacks: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FamilyFacts:
    registration: Registration
    writes: tuple[Write, ...]  # write sites in code that can run
    dead_writes: tuple[Write, ...]  # write sites only in functions nothing running calls
    values: dict[str, tuple[str, ...]]  # label -> literal values written ("*" among them: also dynamic ones)

    @property
    def written(self) -> bool:
        return bool(self.writes)

    @property
    def initialised_only(self) -> bool:
        """Written only where it is registered (a start value), never updated afterwards."""
        reg = self.registration
        return bool(self.writes) and all(w.function == reg.function and w.file == reg.file for w in self.writes)


def live_functions(program: Program) -> set[str]:
    """Keys of the functions that can run: reached from entry points and start-up code by name."""
    functions: dict[tuple[str, str], list[str]] = {}  # (unit, name) -> plain functions
    methods: dict[str, list[str]] = {}
    anything: dict[str, list[str]] = {}
    for key, fn in program.functions.items():
        if fn.method:
            methods.setdefault(fn.name, []).append(key)
        else:
            functions.setdefault((fn.unit, fn.name), []).append(key)
        anything.setdefault(fn.name, []).append(key)
    live: set[str] = set()
    queue: deque[str] = deque()

    # A method call of an RPC's name is a call of the generated client (`client.GetTaskStatus(...)`), not of
    # the server's implementation, which only the registered server calls (the callbacks below).
    rpc_names = frozenset().union(*program.callbacks.values())

    def reach(refs: set[tuple[str | None, str]], source: str | None, callback: bool = False) -> None:
        for unit, name in refs:
            if unit is None and name in rpc_names and not callback:
                continue
            keys = anything.get(name, ()) if unit == ANY else methods.get(name, ()) if unit is None \
                else functions.get((unit, name), ())
            for key in keys:
                if key not in live and key != source:
                    live.add(key)
                    queue.append(key)

    for key, fn in program.functions.items():
        if fn.entry and key not in live:
            live.add(key)
            queue.append(key)
    reach(program.top_refs, None)
    triggered: set[str] = set()
    while queue:
        while queue:
            key = queue.popleft()
            reach(program.functions[key].refs, key)
        named = {name for key in live for _, name in program.functions[key].refs} | {n for _, n in program.top_refs}
        for trigger in sorted(set(program.callbacks) & named - triggered):
            triggered.add(trigger)
            reach({(None, name) for name in program.callbacks[trigger]}, None, callback=True)
    return live


def _may_call(call: Call, fn: Function) -> bool:
    """Whether `call` may be a call of `fn` (a method call calls a method; a function call names the unit)."""
    return (call.unit is None) == fn.method and (call.unit is None or call.unit == fn.unit)


def family_facts(program: Program) -> dict[str, FamilyFacts]:
    """Per registered family: its live and dead write sites and the label values written."""
    live = live_functions(program)
    callers: dict[str, list[tuple[Function, Call]]] = {}
    for key in live:
        fn = program.functions[key]
        for call in fn.calls:
            callers.setdefault(call.callee, []).append((fn, call))

    by_name: dict[str, list[Function]] = {}
    for fn in program.functions.values():
        by_name.setdefault(fn.name, []).append(fn)

    def values(arg: Arg, fn: Function | None, depth: int, seen: frozenset[str]) -> tuple[set[str], bool]:
        found, dynamic = set(arg.literals), arg.dynamic
        for callee in arg.calls:
            targets = [f for f in by_name.get(callee, []) if f.returns is not None]
            if not targets or depth >= MAX_DEPTH or len(targets) != len(by_name.get(callee, [])):
                dynamic = True
            for target in targets:
                if target.key in seen:
                    dynamic = True
                    continue
                for returned in target.returns or ():
                    more, dyn = values(returned, target, depth + 1, seen | {target.key})
                    found |= more
                    dynamic = dynamic or dyn
        if arg.param is not None:
            sites = [(c, call) for c, call in callers.get(fn.name, []) if _may_call(call, fn)] if fn else []
            if fn is None or depth >= MAX_DEPTH or fn.key in seen or not sites:
                return found, True
            name = fn.params[arg.param] if arg.param < len(fn.params) else None
            for caller, call in sites:
                given = dict(call.named).get(name) if name else None
                if given is None and arg.param < len(call.args):
                    given = call.args[arg.param]
                if given is None:  # a defaulted or variadic parameter
                    dynamic = True
                    continue
                more, dyn = values(given, caller, depth + 1, seen | {fn.key})
                found |= more
                dynamic = dynamic or dyn
        return found, dynamic

    facts: dict[str, FamilyFacts] = {}
    by_handle: dict[str, list[Write]] = {}
    for write in program.writes:
        by_handle.setdefault(write.handle, []).append(write)
    for reg in program.registrations:
        running = tuple(w for w in by_handle.get(reg.handle, []) if w.function is None or w.function in live)
        dead = tuple(w for w in by_handle.get(reg.handle, []) if w not in running)
        label_values: dict[str, set[str]] = {label: set() for label in reg.labels}
        dynamic: dict[str, bool] = {label: False for label in reg.labels}
        for write in running:
            fn = program.functions.get(write.function) if write.function else None
            pairs = list(zip(reg.labels, write.labels, strict=False)) + list(write.named)
            for label, arg in pairs:
                if label in label_values:
                    found, dyn = values(arg, fn, 0, frozenset())
                    label_values[label] |= found
                    dynamic[label] = dynamic[label] or dyn
        facts[reg.name] = FamilyFacts(reg, running, dead, {
            label: tuple(sorted(vals)) + ((DYNAMIC,) if dynamic[label] or not vals else ())
            for label, vals in label_values.items()})
    return facts
