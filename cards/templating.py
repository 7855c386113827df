"""The jinja2 environments over this package's ``templates/`` directory.

``PackageLoader`` reads package data, so an installed wheel carries the templates. jinja2 is
imported when the first environment is made: only email needs it, and importing it costs a
command that renders a Lark or DingTalk card (``cards render``) a good share of its start.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment


@cache
def html_env() -> Environment:
    """Autoescaping environment for HTML templates."""
    return _env(autoescape=True)


@cache
def text_env() -> Environment:
    """Non-escaping environment for plain-text templates."""
    return _env(autoescape=False)


def _env(*, autoescape: bool) -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("cards", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,  # a typo in a template fails the tests, not a user
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
