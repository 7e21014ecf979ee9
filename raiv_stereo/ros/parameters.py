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

"""ROS side of the nodes' parameter tables (raiv_stereo.params.spec): descriptors, types, names."""

from __future__ import annotations

from collections.abc import Mapping
import difflib
from typing import Any

from raiv_stereo.params.spec import coerce, FloatRange, IntRange, ParamSpec
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

_PARAMETER_TYPES = {'bool': ParameterType.PARAMETER_BOOL,
                    'integer': ParameterType.PARAMETER_INTEGER,
                    'double': ParameterType.PARAMETER_DOUBLE,
                    'string': ParameterType.PARAMETER_STRING}


def descriptor(spec: ParamSpec, dynamic_typing: bool = False) -> ParameterDescriptor:
    """
    Return the descriptor of one parameter: type, description, range, read-only.

    dynamic_typing lets e.g. `ros2 param set ... min_depth_mm 600` (an integer) reach the node's
    own check instead of being refused for a double parameter.
    """
    limits = spec.limits_text()
    result = ParameterDescriptor(
        name=spec.name, type=_PARAMETER_TYPES[spec.type_name], description=spec.description,
        read_only=spec.read_only, dynamic_typing=dynamic_typing,
        additional_constraints=f'allowed: {limits}' if limits else '')
    r = spec.value_range
    if isinstance(r, IntRange):
        result.integer_range = [IntegerRange(from_value=int(r.from_value),
                                             to_value=int(r.to_value), step=int(r.step))]
    elif isinstance(r, FloatRange):
        result.floating_point_range = [FloatingPointRange(
            from_value=float(r.from_value), to_value=float(r.to_value), step=float(r.step))]
    return result


def keep_declared_types(node: Node, specs: Mapping[str, ParamSpec]) -> None:
    """
    Store every value as its parameter's type: `ros2 param set ... min_depth_mm 600` a double.

    param_table.coerce turns a value into its spec's type (int -> float for doubles). It runs in
    rclpy's pre-set callback, before the value is checked and stored, and once now for the
    values given at start (a `-p min_depth_mm:=600` arrives as an integer).
    """
    def pre_set(parameters: list[Parameter]) -> list[Parameter]:
        return [_coerced(p, specs) for p in parameters]

    node.add_pre_set_parameters_callback(pre_set)
    started = [_coerced(p, specs) for p in node.get_parameters(
        list(node._parameters))]  # noqa: SLF001 - every declared name
    stored = node.get_parameters([p.name for p in started])
    changed = [p for p, old in zip(started, stored, strict=True)
               if type(p.value) is not type(old.value)]
    if changed:
        node.set_parameters(changed)


def _coerced(parameter: Parameter, specs: Mapping[str, ParamSpec]) -> Parameter:
    spec = specs.get(parameter.name)
    value = parameter.value if spec is None else coerce(spec, parameter.value)
    if type(value) is type(parameter.value):
        return parameter
    return Parameter(parameter.name, value=value)


def log_changes(node: Node, parameters: list[Parameter], before: dict[str, Any]) -> None:
    """Log accepted parameter changes in one line: `min_depth_mm 300.0 -> 600.0`."""
    changes = [f'{p.name} {before.get(p.name)!r} -> {p.value!r}' for p in parameters
               if before.get(p.name, object()) != p.value]
    if changes:
        node.get_logger().info('parameters changed: ' + ', '.join(changes))


IGNORED_UNKNOWN = ('use_sim_time', 'start_type_description_service')
"""Parameters rclpy declares itself, or that every node of a shared file may get."""


def warn_unknown_parameters(node: Node, known: set[str]) -> list[str]:
    """
    Warn about values given at start for parameters this node does not have (a misspelt name).

    rclpy ignores them silently. `known` are names that are fine to ignore (the other node's, in
    a file shared by both). Returns the warnings.
    """
    declared = set(node._parameters)  # noqa: SLF001 - rclpy has no public list of names
    given = set(node._parameter_overrides)  # noqa: SLF001 - nor of the values given at start
    warnings = []
    for name in sorted(given - declared - known - set(IGNORED_UNKNOWN)):
        if name.startswith('qos_overrides.'):
            continue
        close = difflib.get_close_matches(name, sorted(declared | known), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else \
            f'; `ros2 param list {node.get_fully_qualified_name()}` lists them'
        warnings.append(f"'{name}' is not a parameter of {node.get_name()}: ignored{hint}")
    for warning in warnings:
        node.get_logger().warning(warning)
    return warnings
