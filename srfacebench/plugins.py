"""One lazy lookup for plug-in points: built-ins, then an entry-point group, then a module path.

A :class:`PluginRegistry` knows the built-in names of one kind of plug-in (as ``"module:attr"``
strings, imported only when asked for), finds third-party ones through an entry-point group
(``[project.entry-points."srfacebench.tasks"]``), and resolves anything else that looks like a
module path (``"pkg.mod"`` or ``"pkg.mod:Attr"``). An unknown name fails with the known names and
the closest match, in one format for every kind.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import types
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import SrfacebenchError

__all__ = ["PluginRegistry", "did_you_mean"]

T = TypeVar("T")


def did_you_mean(name: str, known: list[str] | set[str] | dict[str, Any], n: int = 1, prefix: str = "") -> str:
    """``" (did you mean 'x'?)"`` (or ``'x' or 'y'`` with ``n`` > 1) for the closest known names, or
    ``""``: the one "did you mean" of every unknown name (models, FR networks, tasks, loaders,
    protocols, degradations, config and TOML keys).

    >>> did_you_mean("bicubc", ["bicubic", "hr"])
    " (did you mean 'bicubic'?)"
    """
    close = difflib.get_close_matches(name, sorted(known), n=n, cutoff=0.5 if n > 1 else 0.6)
    return f" (did you mean {' or '.join(repr(prefix + c) for c in close)}?)" if close else ""


class PluginRegistry(Generic[T]):
    """Name -> plug-in object, resolved lazily.

    Args:
        kind: what is looked up, for messages ("task").
        group: the entry-point group third-party packages register under.
        builtins: name -> ``"module:attr"`` of the built-in plug-ins.
        error: the exception class raised for an unknown or broken name.
        module_attr: what a plug-in module names its plug-in (``"TASK"``): a module path or an entry
            point may give the module itself.
        check: checks the plug-in object (raising ``error``) and returns it.
        instantiate: a class found is instantiated (tasks, loaders); else returned (FR networks,
            which are constructed later with their arguments).
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: dict[str, str],
        error: type[SrfacebenchError],
        module_attr: str,
        check: Callable[[Any, str], T],
        instantiate: bool = True,
    ) -> None:
        self.kind, self.group, self.error, self._check = kind, group, error, check
        self.module_attr, self.instantiate = module_attr, instantiate
        self._builtins = dict(builtins)
        self._cache: dict[str, T] = {}

    def _entry_points(self) -> dict[str, importlib.metadata.EntryPoint]:
        return {ep.name: ep for ep in importlib.metadata.entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Built-in and entry-point names (module paths are open-ended and not listed)."""
        return [*self._builtins, *(n for n in self._entry_points() if n not in self._builtins)]

    def source(self, name: str) -> str:
        if name in self._builtins:
            return "built-in"
        ep = self._entry_points().get(name)
        return f"entry point {ep.value}" if ep is not None else f"module {name}"

    def _adapt(self, obj: Any, name: str) -> T:
        if isinstance(obj, types.ModuleType):
            if not hasattr(obj, self.module_attr):
                raise self.error(f"{self.kind} module {name!r} defines no {self.module_attr}")
            obj = getattr(obj, self.module_attr)
        if self.instantiate and isinstance(obj, type):
            obj = obj()
        return self._check(obj, name)

    def check(self, name: str, where: str = "") -> None:
        """Refuse an unknown name without importing built-ins or entry points (a module path is
        imported: that is the only way to know it exists)."""
        if name in self._builtins or name in self._cache or name in self._entry_points():
            return
        self.get(name, where)

    def get(self, name: str, where: str = "") -> T:
        """The plug-in called ``name``; ``where`` prefixes error messages (a file, a line)."""
        if name in self._cache:
            return self._cache[name]
        at = f"{where}: " if where else ""
        if name in self._builtins:
            obj = _import(self._builtins[name], self.kind, name, self.error, at)
        elif (ep := self._entry_points().get(name)) is not None:
            try:
                obj = ep.load()
            except Exception as e:  # a broken third-party package: name it
                raise self.error(f"{at}{self.kind} {name!r} (entry point {ep.value}) failed to load: {e}") from e
        elif _looks_like_module(name):
            obj = _import(name, self.kind, name, self.error, at, known=self.names())
            try:
                plugin = self._adapt(obj, name)
            except SrfacebenchError as e:  # e.g. `--fr dlib`: a module of that name exists, but is no plug-in
                known = self.names()
                raise self.error(
                    f"{at}unknown {self.kind} {name!r}{did_you_mean(name, known)}; known: {', '.join(known)} "
                    f"(a module {name.partition(':')[0]!r} exists, but: {e})"
                ) from None
            self._cache[name] = plugin
            return plugin
        else:
            known = self.names()
            raise self.error(
                f"{at}unknown {self.kind} {name!r}{did_you_mean(name, known)}; known: {', '.join(known)} "
                f"(or a module path 'pkg.module', or a package registering the entry-point group {self.group!r})"
            )
        plugin = self._adapt(obj, name)
        self._cache[name] = plugin
        return plugin


def _looks_like_module(name: str) -> bool:
    mod = name.partition(":")[0]
    return bool(mod) and all(part.isidentifier() for part in mod.split("."))


def _import(
    spec: str, kind: str, name: str, error: type[SrfacebenchError], at: str, known: list[str] | None = None
) -> Any:
    mod_name, _, attr = spec.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if known is not None and e.name == mod_name.split(".")[0]:
            raise error(
                f"{at}unknown {kind} {name!r}{did_you_mean(name, known)}; known: {', '.join(known)} "
                f"(no module {mod_name!r} either)"
            ) from None
        raise error(f"{at}{kind} {name!r}: importing {mod_name!r} failed: {e}") from e
    if not attr:
        return mod
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise error(f"{at}{kind} {name!r}: module {mod_name!r} has no attribute {attr!r}") from None
