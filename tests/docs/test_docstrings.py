"""Every public callable says what it takes, what it gives back and what it raises.

The API reference is generated from the docstrings (mkdocstrings, Google style), so a
parameter missing from a docstring is missing from the reference. This walks every name in
the ``__all__`` of every public package (``PUBLIC`` of tests/docs/test_site.py, and
``aiosio.compat``): each
function, each class's constructor and each public method (inherited ones included, as the
reference shows them), and checks, with the parser the reference is rendered with:

* every parameter but ``self``/``cls`` is in an ``Args:`` section (``*args`` as ``*args``
  or ``args``; a constructor's in the class's docstring or its ``__init__``'s, or in
  ``Attributes:`` for a dataclass), and nothing documented there is not a parameter;
* a constructor that classes inherit is documented once, in the ``__init__`` of the class
  defining it (the first in the MRO with ``__init__`` in its ``__dict__``): the reference
  shows that docstring on each subclass's page, so a subclass's own ``Args:`` would say it
  all again;
* a ``Returns:`` (or ``Yields:``) section when the return annotation is not ``None``;
* a ``Raises:`` section naming each exception the function raises itself (a ``raise
  Name(...)`` in its own body), but for the ``NotImplementedError`` of an abstract
  method (decorated, or whose body is only that ``raise``).

Properties document the value they hold in their summary and are not walked. Ruff's D1
and D417 rules check the same modules while they are edited (pyproject.toml).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import griffe
import pytest

import aiosio
from tests.docs.test_site import PUBLIC

# Return annotations that need no Returns section.
NOTHING_RETURNED = {"None", "NoReturn", "Never", "typing.NoReturn"}
PRODUCED = {"returns", "yields"}
PACKAGE = Path(aiosio.__file__).parent


# aiosio.compat is public too (the migration guide imports it) but has no API page: it
# is python-socketio's API, whose meaning its docstrings give in aiosio's terms.
WALKED = [*PUBLIC, "aiosio.compat"]


def _is_ours(obj: object) -> bool:
    return str(getattr(obj, "__module__", "") or "").startswith("aiosio")


def _function(raw: object) -> Callable[..., Any] | None:
    """The plain function behind a class attribute, or None (properties, data)."""
    if isinstance(raw, staticmethod | classmethod):
        raw = raw.__func__
    if inspect.isfunction(raw) and _is_ours(raw):
        return raw
    return None


def public_callables() -> list[tuple[str, Callable[..., Any], type | None]]:
    """``(qualified name, function, class whose constructor it is or None)``, each
    function once (a mixin's method reached from several classes, an alias like
    ``in_ = to``) but each class's constructor, in a stable order."""
    found: dict[object, tuple[str, Callable[..., Any], type | None]] = {}
    for module_name in WALKED:
        module = importlib.import_module(module_name)
        for export in module.__all__:
            obj = getattr(module, export)
            if not _is_ours(obj):
                continue
            where = f"{module_name}.{export}"
            if inspect.isclass(obj):
                init = _function(inspect.getattr_static(obj, "__init__", None))
                if init is not None:
                    definer = constructor_owner(obj)
                    if definer is obj:  # documented by the class's docstring and its own
                        found.setdefault((obj, init), (where, init, obj))
                    else:  # inherited: by its __init__ alone, once for all who inherit it
                        name = f"{definer.__module__}.{definer.__qualname__}.__init__"
                        found.setdefault(init, (name, init, None))
                        found.setdefault(obj, (where, init, obj))
                for name in sorted(dir(obj)):
                    if name.startswith("_"):
                        continue
                    fn = _function(inspect.getattr_static(obj, name))
                    if fn is not None:
                        found.setdefault(fn, (f"{where}.{name}", fn, None))
            elif inspect.isfunction(obj):
                found.setdefault(obj, (where, obj, None))
    return sorted(found.values(), key=lambda item: item[0])


def constructor_owner(cls: type) -> type:
    """The class that defines ``cls``'s constructor: the first in its MRO with ``__init__``."""
    return next(klass for klass in cls.__mro__ if "__init__" in vars(klass))


def _sections(doc: str | None) -> dict[str, list[Any]]:
    """The docstring's sections as the reference parses them: kind → items."""
    parsed = griffe.parse_google(
        griffe.Docstring(inspect.cleandoc(doc or "")),
        warn_unknown_params=False,
        warn_missing_types=False,
        warnings=False,
    )
    sections: dict[str, list[Any]] = {}
    for section in parsed:
        value = section.value if isinstance(section.value, list) else [section.value]
        sections.setdefault(section.kind.value, []).extend(value)
    return sections


def _own_raises(fn: Callable[..., Any]) -> set[str]:
    """The exception classes ``fn`` raises in its own body (not in nested functions)."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return set()
    tree = ast.parse(source)
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return set()  # a lambda or an alias assigned in a class body
    raised: set[str] = set()

    def walk(children: list[ast.AST]) -> Iterator[ast.AST]:
        for child in children:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            yield child
            yield from walk(list(ast.iter_child_nodes(child)))

    for child in walk(list(node.body)):
        if isinstance(child, ast.Raise) and child.exc is not None:
            target = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            name = target.attr if isinstance(target, ast.Attribute) else None
            if isinstance(target, ast.Name):
                name = target.id
            # `raise error` re-raises a variable (its type unknown here); an AssertionError
            # marks a state that cannot happen, as an `assert` does: neither is documented.
            if name and name[0].isupper() and name != "AssertionError":
                raised.add(name)
    body = [stmt for stmt in node.body if not _is_docstring(stmt)]
    if getattr(fn, "__isabstractmethod__", False) or (
        len(body) == 1 and isinstance(body[0], ast.Raise) and raised == {"NotImplementedError"}
    ):
        raised.discard("NotImplementedError")  # abstract, by decorator or by its body
    return raised


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)


def _resolve(fn: Callable[..., Any], name: str) -> Any:
    short = name.rsplit(".", 1)[-1]
    return fn.__globals__.get(short, getattr(builtins, short, None))


def _covers(fn: Callable[..., Any], documented: set[str], raised: str) -> bool:
    """A raised class is covered by its own name or by a base class's in Raises."""
    if raised in {name.rsplit(".", 1)[-1] for name in documented}:
        return True
    cls = _resolve(fn, raised)
    for name in documented:
        base = _resolve(fn, name)
        if inspect.isclass(cls) and inspect.isclass(base) and issubclass(cls, base):
            return True
    return False


def problems(qualname: str, fn: Callable[..., Any], owner: type | None = None) -> list[str]:
    """What the docstring of ``fn`` lacks (``owner``: the class it constructs)."""
    doc = fn.__doc__
    if owner is not None and constructor_owner(owner) is not owner:
        # The reference shows an inherited __init__'s docstring on each subclass's page,
        # under the subclass's own: an Args section there would say it all a second time.
        if owner.__doc__ and "parameters" in _sections(owner.__doc__):
            return [f"{qualname}: Args repeat the constructor it inherits; document its __init__"]
        return []
    if owner is not None:  # the reference merges __init__'s docstring into the class's
        doc = "\n\n".join(inspect.cleandoc(d) for d in (owner.__doc__, fn.__doc__) if d)
    if not doc:
        return [f"{qualname}: no docstring"]
    sections = _sections(doc)
    found = []
    signature = inspect.signature(fn)
    parameters = [
        p
        for index, p in enumerate(signature.parameters.values())
        if index or p.name not in {"self", "cls"}
    ]
    documented = {item.name.lstrip("*") for item in sections.get("parameters", [])}
    if owner is not None and dataclasses.is_dataclass(owner):
        documented |= {item.name for item in sections.get("attributes", [])}
    missing = [p.name for p in parameters if p.name not in documented]
    if missing:
        found.append(f"{qualname}: Args lacks {', '.join(missing)}")
    unknown = sorted(
        {item.name.lstrip("*") for item in sections.get("parameters", [])}
        - {p.name for p in parameters}
    )
    if unknown:
        found.append(f"{qualname}: Args names what is not a parameter: {', '.join(unknown)}")
    annotation = signature.return_annotation
    returns_something = annotation is not inspect.Signature.empty and str(annotation) not in (
        NOTHING_RETURNED
    )
    if owner is None and returns_something and not PRODUCED & sections.keys():
        found.append(f"{qualname}: no Returns section (returns {annotation})")
    documented_raises = {str(item.annotation) for item in sections.get("raises", [])}
    for raised in sorted(_own_raises(fn)):
        if not _covers(fn, documented_raises, raised):
            found.append(f"{qualname}: raises {raised}, not in a Raises section")
    return found


CALLABLES = public_callables()


def source_of(fn: Callable[..., Any], owner: type | None) -> str:
    """The module defining ``fn`` (a dataclass's generated constructor: its class's)."""
    module = sys.modules[owner.__module__ if owner is not None else fn.__module__]
    return Path(module.__file__ or "").relative_to(PACKAGE).as_posix()


def test_every_public_callable_documents_its_arguments_return_and_exceptions() -> None:
    logging.getLogger("griffe").setLevel(logging.ERROR)
    gaps = [
        f"{source_of(fn, owner)}: {line}"
        for name, fn, owner in CALLABLES
        for line in problems(name, fn, owner)
    ]
    assert not gaps, f"{len(gaps)} docstring gaps:\n" + "\n".join(gaps)


def test_the_walk_reaches_the_api() -> None:
    names = {name for name, _, _ in CALLABLES}
    for expected in (
        "aiosio.Server",  # a constructor
        "aiosio.server.server.BaseServer.__init__",  # the constructor Server inherits
        "aiosio.Socket.emit_with_ack",  # a method of its own
        "aiosio.Socket.join",  # from a mixin (server/rooms.py)
        "aiosio.connect",  # a function
        "aiosio.testing.serve",
        "aiosio.adapters.redis.redis_adapter",
        "aiosio.compat.AsyncServer.emit",  # python-socketio's API
    ):
        assert expected in names, expected
    assert len(CALLABLES) > 300


def _sample(a: int, *args: str, flag: bool = False) -> int:
    """A function documented in part, for the checker's own test.

    Args:
        a: Documented.
        ghost: Not a parameter.
    """
    if a < 0:
        raise ValueError("negative")
    if flag:

        def inner() -> None:
            raise KeyError("nested functions raise on their own account")

        inner()
    return a + len(args)


def _complete(a: int, *args: str, flag: bool = False) -> int:
    """A function documented in full.

    Args:
        a: A number.
        *args: Strings, counted.
        flag: Unused.

    Returns:
        ``a`` plus the number of strings.

    Raises:
        ArithmeticError: Never (a base class of what is raised covers it).
    """
    if a < 0:
        raise ZeroDivisionError("negative")
    return a + len(args)


class _Base:
    def placeholder(self, x: int) -> None:
        """Abstract in all but name.

        Args:
            x: Anything.
        """
        raise NotImplementedError

    def half_done(self, x: int) -> None:
        """Does something, then gives up.

        Args:
            x: Anything.
        """
        if x:
            raise AssertionError("a state that cannot happen, as an assert")
        raise NotImplementedError


@dataclasses.dataclass
class _Point:
    """A dataclass: its fields are documented as attributes.

    Attributes:
        x: Across.
    """

    x: int
    y: int


class _Factory:
    """A base whose constructor its subclasses inherit."""

    def __init__(self, link: int) -> None:
        """Keep the link.

        Args:
            link: Shared.
        """


class _Made(_Factory):
    """Inherits a documented constructor and says nothing more of it."""


class _Bare:
    """A base whose constructor says nothing of its argument."""

    def __init__(self, link: int) -> None:
        """Keep the link."""


class _Repeating(_Bare):
    """Documents, in its own docstring, a constructor it inherits.

    Args:
        link: Shared.
    """


@pytest.mark.parametrize(
    ("fn", "owner", "expected"),
    [
        pytest.param(
            _sample,
            None,
            [
                "s: Args lacks args, flag",
                "s: Args names what is not a parameter: ghost",
                "s: no Returns section (returns int)",
                "s: raises ValueError, not in a Raises section",
            ],
            id="gaps",
        ),
        pytest.param(_complete, None, [], id="complete"),
        pytest.param(_Point.__init__, _Point, ["s: Args lacks y"], id="dataclass-constructor"),
        pytest.param(_Base.placeholder, None, [], id="abstract-by-its-body"),
        pytest.param(
            _Base.half_done,
            None,
            ["s: raises NotImplementedError, not in a Raises section"],
            id="not-only-a-placeholder",
        ),
        pytest.param(_Factory.__init__, None, [], id="inherited-constructor-documented-once"),
        pytest.param(_Factory.__init__, _Made, [], id="subclass-inheriting-it"),
        pytest.param(_Bare.__init__, None, ["s: Args lacks link"], id="base-lacking-args"),
        pytest.param(
            _Bare.__init__,
            _Repeating,
            ["s: Args repeat the constructor it inherits; document its __init__"],
            id="subclass-documenting-it-again",
        ),
    ],
)
def test_the_checker_catches_each_kind_of_gap(
    fn: Callable[..., Any], owner: type | None, expected: list[str]
) -> None:
    assert problems("s", fn, owner) == expected
