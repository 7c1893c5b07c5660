"""Frozen value classes without the import and class-creation cost of ``dataclasses``.

Rule: the subset of ``@dataclass(frozen=True)`` regauth uses — fields from annotations in order,
defaults, ``field(default=, default_factory=, repr=, compare=)``, ``__post_init__``, generated
``__init__``/``__repr__``/``__eq__``/``__hash__`` (a class's own definitions win), ``replace()``.
Why: ``dataclasses`` pulls in ``inspect``/``ast``/``dis`` and compiles source for every method: about
35 ms of every ``regauth login`` (issue 6, measured with ``-X importtime``).  Type checkers see it
as a dataclass through PEP 681 ``dataclass_transform``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_options: object) -> object:
        return lambda function: function


__all__ = ["FrozenInstanceError", "field", "record", "replace"]

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Field:
    __slots__ = ("compare", "default", "default_factory", "repr")

    def __init__(self, default: object, default_factory: object, repr: bool, compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | None = None,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """Field options, as ``dataclasses.field``."""
    return _Field(default, default_factory, repr, compare)


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen value class (see the module docstring)."""
    names: list[str] = []
    defaults: dict[str, object] = {}
    factories: dict[str, Callable[[], object]] = {}
    shown: list[str] = []
    compared: list[str] = []
    for klass in reversed(cls.__mro__[:-1]):
        for name in getattr(klass, "__record_fields__", ()):
            if name not in names:
                names.append(name)
    # not inspect.get_annotations: importing inspect is what this module avoids
    annotations = cls.__dict__.get("__annotations__")  # noqa: RUF063
    if annotations is None:  # Python 3.14+ (PEP 649) without the __future__ import
        annotations = getattr(cls, "__annotations__", {})
    for name, annotation in annotations.items():
        if "ClassVar" in str(annotation):
            continue
        if name not in names:
            names.append(name)
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, _Field) else _Field(value, None, True, True)
        if isinstance(value, _Field):
            delattr(cls, name)
            if value.default is not _MISSING:
                setattr(cls, name, value.default)
        if spec.default is not _MISSING:
            defaults[name] = spec.default
        if spec.default_factory is not None:
            factories[name] = spec.default_factory  # type: ignore[assignment]
        if spec.repr:
            shown.append(name)
        if spec.compare:
            compared.append(name)
    fields = tuple(names)
    count = len(fields)
    post_init = getattr(cls, "__post_init__", None)
    setter = object.__setattr__

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        if len(args) > count:
            raise TypeError(f"{cls.__name__}() takes {count} arguments, {len(args)} given")
        for name, value in zip(fields, args, strict=False):
            setter(self, name, value)
        for name in fields[len(args) :]:
            if name in kwargs:
                setter(self, name, kwargs.pop(name))
            elif name in defaults:
                setter(self, name, defaults[name])
            elif name in factories:
                setter(self, name, factories[name]())
            else:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(kwargs)}")
        if post_init is not None:
            post_init(self)

    def __repr__(self: object) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{cls.__qualname__}({inner})"

    def _key(self: object) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in compared)

    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(_key(self) == _key(other))

    def __hash__(self: object) -> int:
        return hash(_key(self))

    own = dict(cls.__dict__)
    generated: dict[str, object] = {
        "__init__": __init__,
        "__record_fields__": fields,
        "__match_args__": fields,
        "__setattr__": _frozen_setattr,
        "__delattr__": _frozen_delattr,
    }
    if "__repr__" not in own:
        generated["__repr__"] = __repr__
    if "__eq__" not in own:
        generated["__eq__"] = __eq__
    if own.get("__hash__") is None:
        generated["__hash__"] = __hash__
    for name, value in generated.items():
        setattr(cls, name, value)
    return cls


def replace(obj: T, **changes: Any) -> T:
    """A copy of record ``obj`` with some fields changed, as ``dataclasses.replace``."""
    import dataclasses

    if dataclasses.is_dataclass(obj):
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    values = {name: getattr(obj, name) for name in obj.__record_fields__}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)
