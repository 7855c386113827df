"""Load ``lark_oapi`` in parts: the long connection and the event dispatcher, not every API.

``import lark_oapi`` runs its package ``__init__``, which imports the client of every service
and every generated model: about 10,000 modules, 160 MB of memory and 2.5 s, of which the gateway
uses none (its OpenAPI calls go over its own session, :mod:`bot.channels.lark.api`). The parts it
does use (``lark_oapi.ws``, ``lark_oapi.event``, ``lark_oapi.core``) need only a few hundred
modules, but importing any of them runs the package ``__init__`` first, and the event dispatcher
reaches the services' event processors through ``lark_oapi.api``'s own ``__init__``, which
imports every service again.

:func:`install` therefore puts a finder in front of the import system that makes ``lark_oapi``
and each package under ``lark_oapi.api`` a bare package: its submodules import as usual, its
``__init__`` does not run. The names the gateway takes from the top-level package
(``lark_oapi.EventDispatcherHandler``, ``LogLevel``, ``JSON``, ``RawRequest``) resolve from their
own modules on first use; any other name runs the real ``__init__`` once, so code expecting the
whole SDK still gets it. Installing is idempotent and does nothing once ``lark_oapi`` is loaded.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PACKAGE = "lark_oapi"
BARE = (PACKAGE, f"{PACKAGE}.api")
# What the gateway takes from the top-level package, and the module each name lives in.
NAMES = {
    "EventDispatcherHandler": "lark_oapi.event.dispatcher_handler",
    "JSON": "lark_oapi.core.json",
    "LogLevel": "lark_oapi.core.enum",
    "RawRequest": "lark_oapi.core.model",
    "RawResponse": "lark_oapi.core.model",
}


class _BarePackages(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``lark_oapi`` and the packages under ``lark_oapi.api`` as packages whose
    ``__init__`` is not run."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """A bare package's spec, or None (everything else is found as usual)."""
        if fullname not in BARE and not fullname.startswith(f"{PACKAGE}.api."):
            return None
        directory = self._root.joinpath(*fullname.split(".")[1:])
        if not (directory / "__init__.py").is_file():
            return None  # a plain module: the usual finders load it
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        spec.submodule_search_locations = [str(directory)]
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        """The default module object."""
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        """Run nothing now; the package's names resolve on first use."""
        directory = self._root.joinpath(*module.__name__.split(".")[1:])
        names = NAMES if module.__name__ == PACKAGE else {}
        module.__dict__["__getattr__"] = _names_of(module, directory / "__init__.py", names)


def _names_of(module: types.ModuleType, init: Path, names: dict[str, str]) -> Callable[[str], Any]:
    def resolve(name: str) -> Any:
        where = names.get(name)
        if where is not None:
            value = getattr(importlib.import_module(where), name)
            module.__dict__[name] = value
            return value
        # A name the gateway does not use (``from lark_oapi.api.im.v1 import ...``): run the
        # package's real __init__, once, and answer from what it defined.
        if module.__dict__.pop("__getattr__", None) is not None:
            source = init.read_text(encoding="utf-8")
            exec(compile(source, str(init), "exec"), module.__dict__)
        if name not in module.__dict__:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        return module.__dict__[name]

    return resolve


def install() -> None:
    """Put the finder in place, unless ``lark_oapi`` is loaded already (then nothing changes)."""
    if PACKAGE in sys.modules or any(isinstance(f, _BarePackages) for f in sys.meta_path):
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import that needs it fails as usual
    sys.meta_path.insert(0, _BarePackages(Path(next(iter(spec.submodule_search_locations)))))
