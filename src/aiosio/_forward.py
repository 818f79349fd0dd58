"""Read-only attributes that forward to an attribute of another attribute.

``id = Forward[str | None]("client")`` in a class body reads ``self.client.id``, like a
``@property`` that returns it, in one line that still tells mypy the attribute's type.
Setting or deleting it raises :class:`AttributeError`, as on a property without a setter.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Generic, NoReturn, Self, TypeVar, overload

__all__ = ["Forward"]

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
