"""Rendering of the HTML the app writes into SOAR (notes, descriptions).

Values in these notes come from Proofpoint TAP and, through it, from attackers (threat names are
URLs and addresses an attacker chose). Jinja2's sandbox with autoescaping makes every value inert
text; StrictUndefined makes a template that names a missing value fail loudly instead of writing
an empty note.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=PackageLoader("fn_pp_tap_functions", "data/templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["names"] = lambda values: ", ".join(str(v) for v in values or []) or "none"
    return env


def render_template(name: str, **context: Any) -> str:
    """Render one of the app's shipped templates to HTML."""
    return environment().get_template(name).render(**context).strip()
