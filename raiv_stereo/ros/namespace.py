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


"""Whether a --namespace option is a ROS namespace, by rcl's own rule (the tools check it)."""

from __future__ import annotations

from rclpy.exceptions import InvalidNamespaceException
from rclpy.validate_namespace import validate_namespace


def namespace_problem(namespace: str) -> str | None:
    """Return why `namespace` is not a ROS namespace (rcl's own rule), None when it is one."""
    try:
        validate_namespace('/' + namespace.lstrip('/') if namespace else '/')
    except InvalidNamespaceException as error:
        reason = str(error).splitlines()[0].removeprefix('Invalid namespace: ')
        return f'--namespace {namespace!r} is not a ROS namespace: {reason}'
    return None
