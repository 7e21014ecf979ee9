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
The executables' entry points: Ctrl-C handling first, then the imports (rclpy, OpenCV: 1 s).

A Ctrl-C during those imports is remembered and the node exits 0 without starting.
"""

from __future__ import annotations

import importlib

from raiv_stereo.ros import signals


def _run(module: str) -> int:
    signals.install()
    return importlib.import_module(f'raiv_stereo.ros.{module}').main()


def camera_node() -> int:
    """`camera_node`: the camera driver."""
    return _run('camera_node')


def depth_node() -> int:
    """`depth_node`: the depth node."""
    return _run('depth_node')


def stereo_node() -> int:
    """`stereo_node`: both nodes in one process."""
    return _run('stereo_node')
