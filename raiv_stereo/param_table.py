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

"""Node parameters as plain data (no ROS import): one spec per parameter, and its README table."""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Iterable


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

    def limits_text(self) -> str:
        """Return the allowed values in words (for descriptors and the README)."""
        if self.choices:
            return 'one of ' + ', '.join(self.choices)
        r = self.value_range
        if r is None:
            return ''
        step = f', step {r.step:g}' if r.step and r.step != 1 else ''
        return f'{r.from_value:g}..{r.to_value:g}{step}'


def default_values(parameters: Iterable[ParamSpec]) -> dict[str, Any]:
    """Return every parameter's default value by name."""
    return {p.name: p.default for p in parameters}


def value_problem(spec: ParamSpec, value: Any) -> str | None:
    """
    Return what is wrong with one value alone (type, choices, range, step), None when fine.

    Whole numbers are accepted for doubles (`ros2 param set` sends 600 for 600.0).
    """
    expected = type(spec.default)
    if not (type(value) is expected or (expected is float and type(value) is int)):
        return f'{spec.name} must be a {spec.type_name}, got {value!r}'
    if spec.choices is not None and value not in spec.choices:
        return f'{spec.name} is {value!r}; choose one of {", ".join(spec.choices)}'
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
