"""A griffe extension for the API reference: methods made by a forwarder factory.

The server's main-namespace shortcuts are written once, as the namespace's methods, and
made methods of the server by :func:`aiosio.server.namespace_emits.on_main`
(``emit = on_main(NamespaceEmits.emit)``); the sync client's non-blocking ones are the
client's, by :func:`aiosio.client.sync.on_loop` (and ``registering_on_loop``). Read from
the source, such a line is an attribute; this imports the module that holds it and takes
each one as the function it is at run time (the signature and docstring of the method it
forwards to), so that the reference shows them as methods, documented. Loaded by mkdocs.yml (``extensions:`` of the
python handler).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

import griffe
from docs.extensions.sphinx_roles import plain

FACTORIES = ("on_main(", "on_loop(", "registering_on_loop(")
"""The calls whose result is a method: an attribute assigned one is inspected."""


class Forwarders(griffe.Extension):
    """Replaces each attribute assigned a forwarder by the function inspected at run time."""

    def __init__(self) -> None:
        self._inspected: dict[str, griffe.Module] = {}

    def on_class_members(self, *, cls: griffe.Class, agent: Any, **kwargs: Any) -> None:
        """Swap the class's forwarder attributes for the functions they hold."""
        if isinstance(agent, griffe.Inspector):
            return
        for name, member in list(cls.members.items()):
            if isinstance(member, griffe.Attribute) and str(member.value).startswith(FACTORIES):
                function = self._function(cls, name)
                if function is not None:
                    cls.set_member(name, function)

    def _function(self, cls: griffe.Class, name: str) -> griffe.Function | None:
        runtime: Any = importlib.import_module(cls.module.path)
        for part in (*cls.path.removeprefix(cls.module.path + ".").split("."), name):
            runtime = getattr(runtime, part)
        # griffe's inspector sees through the forwarder (``__wrapped__``) to the method it
        # forwards to: that method, inspected where it is written, with the forwarder's
        # docstring.
        target = inspect.unwrap(runtime)
        module = self._inspect(target.__module__, cls)
        function = module.get_member(target.__qualname__)
        if not isinstance(function, griffe.Function):
            return None
        if inspect.iscoroutinefunction(runtime):  # griffe's inspector labels no method so
            function.labels.add("async")
        function.docstring = griffe.Docstring(
            plain(inspect.cleandoc(runtime.__doc__ or "")),
            parser=cls.docstring.parser if cls.docstring else None,
            parent=function,
        )
        return function

    def _inspect(self, path: str, near: griffe.Class) -> griffe.Module:
        if path not in self._inspected:
            # Imported from the folder the class was read from, then the usual places.
            assert isinstance(near.module.filepath, Path)
            root = near.module.filepath.parents[near.module.path.count(".")]
            paths = [str(root), *sys.path]
            self._inspected[path] = griffe.inspect(path, import_paths=paths)
        return self._inspected[path]
