"""Settings declared once, and the one ``KEY=VALUE`` grammar that reads them.

A setting is a dataclass field made by :func:`option`: its default, its help line, the checks its
values must pass (choices, positive, at least) and, for the training settings, whether a resumed run
may change it (``resumable``) and whether a benchmark row or a tuning grid may set it (``knob``). The
model options (:mod:`simve.models.base`) and the training config (:class:`simve.train.TrainConfig`)
are declared this way; the command line, the help text, the resume rules and the row grammar are
generated from the declarations.

Every ``KEY=VALUE`` the command line takes goes through :func:`parse_pairs`: the settings of a row
(``--models simclr:temperature=0.1:lr=3e-4``), a sweep or a grid (``KEY=V1,V2``), ``--set`` and
``--cluster-set``. Values are typed by the declared type of their key (:func:`parse_value`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping

from simve.errors import SimveError


def option(default, help: str, *, choices: tuple | Callable[[], tuple] | None = None, positive: bool = False,
           at_least: float | None = None, symbol: str = "", resumable: bool = False, knob: bool = False,
           metavar: str | None = None, const=None, added_later: bool = False, default_factory=None):
    """A declared setting: its default, its help line and the checks its values must pass. ``choices`` may
    be a callable (choices known only once every model is registered). ``resumable``: a resumed run may
    change it; ``knob``: a benchmark row or a tuning grid may set it; ``const``: the value of its flag given
    bare (``--curve`` alone); ``added_later``: a training setting added after runs were first cached, which
    names a run's folder only where it differs from its default (so earlier folders keep their names)."""
    metadata = {"help": help, "choices": choices, "positive": positive, "at_least": at_least, "symbol": symbol,
                "resumable": resumable, "knob": knob, "metavar": metavar, "const": const, "added_later": added_later}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def choices_of(field: dataclasses.Field) -> tuple | None:
    choices = field.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def check_value(field: dataclasses.Field, value) -> None:
    """Refuse ``value`` for the declared ``field`` in one line (its choices, sign and lower bound); None
    (not set: the default decides) passes."""
    if value is None:
        return
    meta = field.metadata
    label = f"{field.name} ({meta['symbol']})" if meta.get("symbol") else field.name
    choices = choices_of(field)
    if choices and value not in choices:
        raise SimveError(f"{label} must be one of {', '.join(map(str, choices))}, got {value!r}")
    if meta.get("positive") and not 0 < _number(value) < math.inf:
        raise SimveError(f"{label} must be positive and finite, got {value}")
    if meta.get("at_least") is not None and not _number(value) >= meta["at_least"]:
        raise SimveError(f"{label} must be >= {meta['at_least']:g}, got {value}")


def check_fields(settings) -> None:
    """:func:`check_value` for every declared field of the dataclass instance ``settings``."""
    for field in dataclasses.fields(settings):
        if "help" in field.metadata:
            check_value(field, getattr(settings, field.name))


def _number(value) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def declared(cls, **where) -> dict[str, dataclasses.Field]:
    """The declared fields of dataclass ``cls`` whose metadata matches ``where`` (e.g. ``knob=True``)."""
    return {f.name: f for f in dataclasses.fields(cls)
            if "help" in f.metadata and all(f.metadata.get(k) == v for k, v in where.items())}


def hints(cls, names: Iterable[str] | None = None) -> dict[str, object]:
    """The declared types of ``cls``'s fields (``names`` only, where given)."""
    found = typing.get_type_hints(cls)
    return {k: found[k] for k in (found if names is None else names)}


def parse_value(hint, text: str):
    """``text`` as a value of type ``hint``: the first of its types that reads it (``int | None`` -> int,
    ``float | str`` -> a number where it is one, else the word; bools are yes/no/true/false)."""
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in (k for k in kinds if k is not type(None)):
        if kind is bool:
            if text.lower() in ("yes", "no", "true", "false"):
                return text.lower() in ("yes", "true")
            continue
        try:
            return kind(text)
        except ValueError:
            continue
    raise ValueError(f"expected {' or '.join(getattr(k, '__name__', str(k)) for k in kinds)}, got {text!r}")


ANY_KEY = object()  # a ``types`` entry: keys not listed are taken, typed by this entry's value


def parse_pairs(items: Iterable[str], types: Mapping[str, object] | None, *, many: bool, what: str,
                check: Callable[[str, object], None] | None = None) -> dict[str, object]:
    """``KEY=VALUE`` items (``KEY=V1,V2,...`` where ``many``) as ``{key: value}`` (``{key: [values]}``).

    Each key at most once, among ``types`` (``None``: any key, values kept as written; an ``ANY_KEY``
    entry: any other key, typed by it); each value typed by its key's type and passed to ``check(key,
    value)``; the values of one key distinct. ``what`` names the option in the one-line errors."""
    form = "KEY=V1,V2,..." if many else "KEY=VALUE"
    parsed: dict[str, object] = {}
    for item in items:
        key, sep, text = (part.strip() for part in item.partition("="))
        values = [v.strip() for v in text.split(",")] if many else [text]
        if not key or not sep or not all(values):
            raise SimveError(f"{what}: write each setting as {form}, got {item!r}")
        if key in parsed:
            raise SimveError(f"{what}: {key} is given twice")
        if len(set(values)) < len(values):
            raise SimveError(f"{what}: {key} repeats a value in {item!r}; give distinct values")
        if types is not None:
            if key not in types and ANY_KEY not in types:
                raise SimveError(f"{what} has no option {key!r}; choose from "
                                 f"{', '.join(k for k in types if k is not ANY_KEY)}")
            hint = types.get(key, types.get(ANY_KEY))
            try:
                values = [parse_value(hint, v) for v in values]
            except ValueError as err:
                raise SimveError(f"{what}: {key}: {err}") from None
            for value in values:
                if check is not None:
                    check(key, value)
        parsed[key] = values if many else values[0]
    return parsed
