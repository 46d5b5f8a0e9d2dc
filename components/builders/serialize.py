"""The one place configuration structures become bytes.

Both the Pulumi program and the render command serialize through these
functions, so a rendered file is byte-identical to what is deployed.
"""

from __future__ import annotations

import json
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Block-style YAML; multi-line strings (PromQL, templates) as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:  # never emit &anchors: configs must read plainly
        return True


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=4096)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
