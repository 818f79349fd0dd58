"""Attributes and methods that forward to another object's.

``id = Forward[str | None]("client")`` in a class body reads ``self.client.id``, like a
``@property`` that returns it, in one line that still tells mypy the attribute's type.
Setting or deleting it raises :class:`AttributeError`, as on a property without a setter.

:func:`carry` gives a forwarding method the name and docstring of the method it forwards
to (and ``__wrapped__``, for its signature), with a note on where the call goes: the
forwarders of the server's main namespace and of the sync client are made with it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import update_wrapper
from operator import attrgetter
from typing import Any, Generic, NoReturn, Self, TypeVar, overload

__all__ = ["Forward", "carry"]

C = TypeVar("C", bound=Callable[..., Any])

T = TypeVar("T")


class Forward(Generic[T]):
    """A read-only attribute: ``self.<target>.<name>``, ``name`` being its own name."""

    def __init__(self, target: str, doc: str | None = None) -> None:
        self.target = target
        self.name = ""
        self.__doc__ = doc
        self._get: Any = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self._get = attrgetter(f"{self.target}.{name}")

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object, owner: type | None = None) -> T | Self:
        if obj is None:
            return self
        value: T = self._get(obj)
        return value

    def __set__(self, obj: object, value: NoReturn) -> NoReturn:
        raise AttributeError(f"{type(obj).__name__}.{self.name} is read-only")

    def __delete__(self, obj: object) -> NoReturn:
        raise AttributeError(f"{type(obj).__name__}.{self.name} is read-only")


def carry(forward: C, method: Callable[..., Any], note: str) -> C:
    """Give ``forward`` the name, signature and docstring of ``method``, which it calls.

    Args:
        forward: The forwarding function.
        method: The method it forwards to.
        note: Where the call goes, said after the docstring's summary.

    Returns:
        ``forward``, its module still its own: it is a method of the class it is made in.
    """
    update_wrapper(forward, method, assigned=("__name__", "__doc__"))
    summary, _, rest = inspect.cleandoc(method.__doc__ or "").partition("\n\n")
    forward.__doc__ = f"{summary}\n\n{note}\n\n{rest}" if rest else f"{summary}\n\n{note}"
    return forward
