# Copyright 2026 raiv_stereo developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Settings as plain data (no ROS import): one spec per setting, and the one place values are checked.

A ParamTable (specs plus the rules between them) declares the node parameters, checks them on
set, checks the launch arguments and the command-line options that carry the same settings, and
writes the README tables, so a bad value is refused with the same words everywhere.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import difflib
import math
from typing import Any, Callable, Iterable, Mapping


@dataclass(frozen=True)
class IntRange:
    """Integer range as rcl_interfaces/IntegerRange: from_value + k * step, up to to_value."""

    from_value: int
    to_value: int
    step: int = 1


@dataclass(frozen=True)
class FloatRange:
    """Floating-point range as rcl_interfaces/FloatingPointRange (step 0 = continuous)."""

    from_value: float
    to_value: float
    step: float = 0.0


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: name, default (its type is the parameter's), description, limits."""

    name: str
    default: Any
    description: str
    value_range: IntRange | FloatRange | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False

    @property
    def type_name(self) -> str:
        """Return the ROS parameter type name: bool, integer, double or string."""
        return {bool: 'bool', int: 'integer', float: 'double', str: 'string'}[type(self.default)]

    @property
    def flag(self) -> str:
        """Return the command-line option of this setting: --name-with-dashes."""
        return '--' + self.name.replace('_', '-')

    def limits_text(self) -> str:
        """Return the allowed values in words (for descriptors and the README)."""
        if self.choices:
            return 'one of ' + ', '.join(map(as_text, self.choices))
        r = self.value_range
        if r is None:
            return ''
        step = f', step {r.step:g}' if r.step and r.step != 1 else ''
        return f'{r.from_value:g}..{r.to_value:g}{step}'


def as_text(value: Any) -> str:
    """Return a value as a user writes it on a command line: 2.8, true, 32FC1."""
    if isinstance(value, bool):
        return str(value).lower()
    return f'{value:g}' if isinstance(value, float) else str(value)


def default_values(parameters: Iterable[ParamSpec]) -> dict[str, Any]:
    """Return every parameter's default value by name."""
    return {p.name: p.default for p in parameters}


def loosely_typed(spec: ParamSpec) -> bool:
    """Return True for parameters that accept other types (30 for 30.0, 0 for the path '0')."""
    return isinstance(spec.default, float) or \
        (isinstance(spec.default, str) and spec.choices is None)


def coerce(spec: ParamSpec, value: Any) -> Any:
    """Return `value` as the parameter's type where that loses nothing (int -> float, -> str)."""
    if isinstance(spec.default, float) and type(value) is int:
        return float(value)
    if loosely_typed(spec) and isinstance(spec.default, str) and type(value) in (int, float):
        return str(value)
    return value


def _type_problem(spec: ParamSpec, value: Any) -> str:
    article = 'an' if spec.type_name[0] in 'aeiou' else 'a'
    return f'{spec.name} must be {article} {spec.type_name}, got {value!r}'


def from_text(spec: ParamSpec, text: Any) -> Any:
    """Return a launch argument or option string as the setting's type (ValueError if not)."""
    text = str(text).strip()
    kind = type(spec.default)
    if kind is bool:
        if text.lower() not in ('true', 'false'):
            raise ValueError(_type_problem(spec, text))
        return text.lower() == 'true'
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(_type_problem(spec, text)) from None
    return text


def value_problem(spec: ParamSpec, value: Any) -> str | None:
    """
    Return what is wrong with one value alone (type, choices, range, step), None when fine.

    Whole numbers are accepted for doubles (`ros2 param set` sends 600 for 600.0).
    """
    expected = type(spec.default)
    if not (type(value) is expected or (expected is float and type(value) is int)):
        return _type_problem(spec, value)
    if spec.choices is not None and value not in spec.choices:
        shown = repr(value) if isinstance(value, str) else as_text(value)
        return f'{spec.name} is {shown}; choose one of {", ".join(map(as_text, spec.choices))}'
    r = spec.value_range
    if r is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f'{spec.name} must be a finite number, got {value!r}'
    if not r.from_value <= value <= r.to_value:
        return f'{spec.name} is {value:g}; allowed {spec.limits_text()}'
    if isinstance(r, IntRange) and r.step > 1 and value not in (r.from_value, r.to_value) \
            and (value - r.from_value) % r.step:
        return f'{spec.name} is {value}; allowed {spec.limits_text()}'
    return None


def _markdown_text(text: str) -> str:
    """Return `text` safe inside a Markdown table cell (no HTML tags, no column breaks)."""
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;') \
        .replace('|', '\\|')


def markdown_table(parameters: Iterable[ParamSpec]) -> str:
    """Return the parameters as a Markdown table (name, type, default, allowed, description)."""
    rows = ['| Parameter | Type | Default | Allowed | Runtime | Description |',
            '|---|---|---|---|---|---|']
    for p in parameters:
        if isinstance(p.default, bool):
            default = f'`{str(p.default).lower()}`'
        elif isinstance(p.default, str):
            default = f"`'{p.default}'`"
        else:
            default = f'`{p.default}`'
        rows.append(f'| `{p.name}` | {p.type_name} | {default} | {p.limits_text()} | '
                    f'{"no" if p.read_only else "yes"} | {_markdown_text(p.description)} |')
    return '\n'.join(rows) + '\n'


Rule = Callable[[Mapping[str, Any]], 'str | list[str] | None']
"""A check across settings: given every value (defaults filled in), its problem(s) or None."""


@dataclass(frozen=True)
class ParamTable:
    """The settings of one node or command and the rules between them."""

    parameters: tuple[ParamSpec, ...]
    rules: tuple[Rule, ...] = ()
    by_name: dict[str, ParamSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the specs by name."""
        object.__setattr__(self, 'by_name', {p.name: p for p in self.parameters})

    def defaults(self) -> dict[str, Any]:
        """Return every setting's default value by name."""
        return default_values(self.parameters)

    def problems(self, values: Mapping[str, Any]) -> list[str]:
        """
        Return what is wrong with these values, alone or together (empty = usable).

        Missing names take their defaults. Each value is checked on its own first; the rules
        run only when every value passed.
        """
        merged = self.defaults()
        merged.update(values)
        problems = self.unknown(values)
        problems += [p for p in (value_problem(s, merged[s.name]) for s in self.parameters) if p]
        if problems:
            return problems
        for rule in self.rules:
            found = rule(merged)
            problems += [found] if isinstance(found, str) else found or []
        return problems

    def unknown(self, names: Iterable[str]) -> list[str]:
        """Return a problem for each name that is not a setting here, with the closest one."""
        problems = []
        for name in names:
            if name not in self.by_name:
                close = difflib.get_close_matches(name, self.by_name, n=1)
                problems.append(f'unknown parameter {name!r}' +
                                (f'; did you mean {close[0]!r}?' if close else ''))
        return problems

    def markdown(self) -> str:
        """Return the settings as a Markdown table (for the README)."""
        return markdown_table(self.parameters)

    def add_options(self, parser: argparse.ArgumentParser, names: Iterable[str],
                    flags: Mapping[str, str] | None = None,
                    defaults: Mapping[str, Any] | None = None,
                    notes: Mapping[str, str] | None = None) -> None:
        """
        Add a command-line option for each named setting: type, default and help from its spec.

        The value lands in `args.<setting name>`; `flags` renames an option (sgbm_mode: --mode)
        and `defaults` gives a command its own default (`notes` then says what an unset one
        means). argparse checks only the type:
        `option_problems` then refuses a bad value with the node's words.
        """
        for name in names:
            spec = self.by_name[name]
            limits = spec.limits_text()
            text = spec.description + (f' ({limits})' if limits else '')
            text += f' {notes[name]}' if notes and name in notes else ''
            text = text.replace('%', '%%')
            flag = (flags or {}).get(name, spec.flag)
            default = (defaults or {}).get(name, spec.default)
            if isinstance(spec.default, bool):
                parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                    default=default, help=text)
            else:
                parser.add_argument(flag, dest=name, type=type(spec.default), default=default,
                                    help=text)

    def option_values(self, args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
        """Return the named settings that `args` carries, by setting name."""
        return {name: getattr(args, name) for name in names if hasattr(args, name)}

    def option_problems(self, args: argparse.Namespace, names: Iterable[str]) -> list[str]:
        """Return what is wrong with the named settings `args` carries (the node's words)."""
        return self.problems(self.option_values(args, names))
