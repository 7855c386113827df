"""The jinja2 environments over this package's ``templates/`` directory.

``PackageLoader`` reads package data, so an installed wheel carries the templates.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def html_env() -> Environment:
    """Autoescaping environment for HTML templates."""
    return _env(autoescape=True)


@cache
def text_env() -> Environment:
    """Non-escaping environment for plain-text templates."""
    return _env(autoescape=False)


def _env(*, autoescape: bool) -> Environment:
    return Environment(
        loader=PackageLoader("cards", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,  # a typo in a template fails the tests, not a user
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
