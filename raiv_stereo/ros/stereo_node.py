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
Camera node and depth node in one process (manual composition, as in ros2/demos).

rclpy has no intra-process transport, but in one process the raw pairs (12.5 MB at 1600x1300
bgr8) cross no process boundary, whatever the RMW. `depth.launch.py composed:=true` starts it.
Each node reads its parameters under its own name (camera_node, depth_node).
"""

from __future__ import annotations

import sys

from raiv_stereo.ros.camera_node import CameraNode
from raiv_stereo.ros.depth_node import DepthNode
from raiv_stereo.ros.process_tuning import tune_process
from raiv_stereo.ros.spin import run_nodes


def main(args: list[str] | None = None) -> int:
    """Run both nodes until Ctrl-C; exit code 1 with a clear message when one cannot start."""
    tune_process(depth_worker=True)
    return run_nodes([CameraNode, DepthNode], 'stereo_node', args)


if __name__ == '__main__':
    sys.exit(main())
