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

"""ROS descriptors for the nodes' parameter tables (raiv_stereo.param_table)."""

from __future__ import annotations

from raiv_stereo.param_table import FloatRange, IntRange, ParamSpec, ParamTable
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

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


def warn_unknown_overrides(node, table: ParamTable) -> list[str]:
    """
    Log (once, at start) each parameter the node was given but does not have: a misspelt name.

    rclpy keeps undeclared overrides (-p, parameter files, parameter_overrides) without a word;
    they are only in its private `_parameter_overrides`. QoS overrides are rclpy's own.
    """
    given = getattr(node, '_parameter_overrides', {})
    problems = table.unknown(name for name in given if not node.has_parameter(name)
                             and not name.startswith('qos_overrides.'))
    for problem in problems:
        node.get_logger().warning(f'{problem} (ignored)')
    return problems
