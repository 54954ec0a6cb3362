"""Rendering of the HTML the app writes into SOAR (notes, descriptions).

Values in these notes come from Proofpoint TAP and, through it, from attackers (threat names are
URLs and addresses an attacker chose). Jinja2's sandbox with autoescaping makes every value inert
text; StrictUndefined makes a template that names a missing value fail loudly instead of writing
an empty note. The sandbox is the bounded one (:class:`~fn_pp_tap_functions.sandbox.BoundedSandbox`):
an answer so large that its note would take more than :data:`NOTE_LIMITS` is refused with a clear error
instead of holding a runtime worker or its memory.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import PackageLoader, StrictUndefined

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.sandbox import BoundedSandbox, Limits, RenderLimitError

NOTE_LIMITS = Limits(seconds=10.0, chars=32_000_000, value=4_000_000)


@lru_cache(maxsize=1)
def environment() -> BoundedSandbox:
    env = BoundedSandbox(
        loader=PackageLoader("fn_pp_tap_functions", "data/templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        limits=NOTE_LIMITS,
    )
    env.filters["names"] = lambda values: ", ".join(str(v) for v in values or []) or "none"
    return env


def render_template(name: str, **context: Any) -> str:
    """Render one of the app's shipped templates to HTML."""
    try:
        return environment().get_template(name).render(**context).strip()
    except RenderLimitError as err:
        raise TapResponseError(f"Proofpoint TAP's answer is too large to write as a note ({name}: {err}); "
                               "look it up in the TAP dashboard instead.") from None
