"""Configuration of the optional exporters (pure)."""

from __future__ import annotations

from typing import Any


def build_blackbox_config() -> dict[str, Any]:
    """blackbox.yml: one module probing Shannon's HTTP health endpoints."""
    return {
        "modules": {
            "http_2xx": {
                "prober": "http",
                "timeout": "5s",
                "http": {
                    "valid_status_codes": [],  # any 2xx
                    "method": "GET",
                    "preferred_ip_protocol": "ip4",
                    "follow_redirects": False,
                },
            },
        },
    }
