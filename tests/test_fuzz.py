"""Property-based fuzzing (hypothesis, derandomized so CI is repeatable): whatever a user writes into a stack
file or passes to the capacity calculator, the answer is a render or one of the project's own refusals, never
another exception, and a refusal names at least one key or file."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import capacity
from components.builders.dashboards import DashboardError
from components.builders.rules import RuleFileError
from components.render import render_files
from components.settings import SettingsError
from components.stackfile import StackFileError, load_stack
from tests.conftest import ROOT

REFUSALS = (StackFileError, SettingsError, RuleFileError, DashboardError)
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

PROD = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into the config, mappings and list items alike, so a mutation lands at any depth."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


PATHS = _paths(PROD["config"])
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | TEXT
           | st.sampled_from(["30d", "0s", "-1", "1e400", "http://x", "${X}", "{{ .X }}", "ÿ", "..", "", "Gi"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)


def _set(config: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _check_stack_file(path: Path) -> None:
    try:
        settings_, secrets = load_stack("prod", ROOT, path)
        render_files(settings_, secrets)
    except REFUSALS as error:
        assert str(error).strip(), "a refusal without a message"


@FUZZ
@given(mutations=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_mutated_stack_files_render_or_are_refused(mutations: list[tuple[tuple[Any, ...], Any]],
                                                   tmp_path_factory: pytest.TempPathFactory):
    """Any value at any key of the prod stack file (wrong types, huge numbers, NaN, templates, nested junk)
    renders or is refused by the project's own errors; nothing else escapes."""
    data = copy.deepcopy(PROD)
    for path, value in mutations:
        try:
            _set(data["config"], path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent of this path
    path = tmp_path_factory.mktemp("fuzz") / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    _check_stack_file(path)


@FUZZ
@given(text=st.text(max_size=400) | st.binary(max_size=400).map(lambda b: b.decode("latin-1")))
def test_any_text_as_a_stack_file_is_read_or_refused(text: str, tmp_path_factory: pytest.TempPathFactory):
    """Arbitrary text as a whole stack file (binary, broken YAML, odd unicode) is refused by the project's own
    errors or read; it never raises anything else."""
    path = tmp_path_factory.mktemp("fuzz") / "Pulumi.prod.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    _check_stack_file(path)


ARG = st.sampled_from(["0", "-1", "1", "60000", "1e3", "inf", "nan", "", "9" * 30, "15s", "0s", "1ms", "30d",
                       "300y", "2Gi", "0", "512Mi", "1Ti", "abc"]) | TEXT
FLAGS = ["--series", "--scrape-interval", "--retention", "--bytes-per-sample", "--memory", "--volume"]


@FUZZ
@given(pairs=st.lists(st.tuples(st.sampled_from(FLAGS), ARG), max_size=4),
       switches=st.sets(st.sampled_from(["--remote-write", "--limits"])))
def test_capacity_answers_or_refuses_any_arguments(pairs: list[tuple[str, str]], switches: set[str],
                                                   capsys: pytest.CaptureFixture[str]):
    """Any combination of capacity arguments prints a plan (exit 0) or is refused by argparse (exit 2); no
    argument reaches an OverflowError, a ZeroDivisionError or a plan with a negative size."""
    args = [item for pair in pairs for item in pair] + sorted(switches)
    try:
        code = capacity.main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    if code == 0:
        assert not re.search(r"(?<![\w-])-[0-9]", captured.out), captured.out  # no negative size or count
