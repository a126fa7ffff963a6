"""Readable one-line text for instructions (the server's history API and the Studio)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Final

from studio.primitives import instructions as ins

_MAX: Final = 120


def _value(value: Any) -> str:
    if isinstance(value, ins.Link):
        return f"{value.class_name}[{_value(value.primary_key)}]"
    if isinstance(value, ins.EmbeddedObject):
        return "{}"
    if isinstance(value, bytes):
        text = base64.b64encode(value[:48]).decode("ascii")
        return f'B64"{text}{"..." if len(value) > 48 else ""}"'
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int | float | str) or value is None:
        text = repr(value)
    else:
        text = f"{type(value).__name__}({value})"
    return text if len(text) <= _MAX else text[: _MAX - 3] + "..."


def _target(i: Any) -> str:
    base = f"{i.class_name}[{_value(i.primary_key)}]"
    for step in getattr(i, "path", ()):
        base += f"[{step}]" if isinstance(step, int) else f".{step}"
    return base


def describe(i: ins.Instruction) -> str:
    name = type(i).__name__
    if isinstance(i, ins.AddClass):
        if i.embedded:
            return f"AddClass {i.class_name} (embedded)"
        pk = f"{i.primary_key}: {i.primary_key_type}{'?' if i.primary_key_optional else ''}"
        return f"AddClass {i.class_name} (primary key {pk})"
    if isinstance(i, ins.AddProperty):
        return f"AddProperty {i.class_name}.{i.name}: {i.type}{' (indexed)' if i.indexed else ''}"
    if isinstance(i, ins.CreateObject | ins.EraseObject | ins.Clear):
        return f"{name} {_target(i)}"
    if isinstance(i, ins.Set):
        return f"Set {_target(i)} = {_value(i.value)}"
    if isinstance(i, ins.AddInteger):
        return f"AddInteger {_target(i)} += {i.delta}"
    if isinstance(i, ins.ListInsert | ins.ListSet):
        return f"{name} {_target(i)}[{i.index}] = {_value(i.value)}"
    if isinstance(i, ins.ListErase):
        return f"ListErase {_target(i)}[{i.index}]"
    if isinstance(i, ins.ListMove):
        return f"ListMove {_target(i)} {i.from_index} -> {i.to_index}"
    if isinstance(i, ins.SetInsert | ins.SetErase):
        return (
            f"{name} {_target(i)} {'+' if isinstance(i, ins.SetInsert) else '-'} {_value(i.value)}"
        )
    if isinstance(i, ins.DictSet):
        return f"DictSet {_target(i)}[{i.key!r}] = {_value(i.value)}"
    if isinstance(i, ins.DictErase):
        return f"DictErase {_target(i)}[{i.key!r}]"
    return name  # pragma: no cover - every instruction type is handled above
