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
The ROS Python modules raiv_stereo needs, with stand-ins only when they cannot be imported.

`message_filters`, `CvBridge` and `CvBridgeError` are the real ones from a ROS install; on a
machine without ROS (pip wheels of rclpy and the messages only) the project's own stand-ins in
raiv_stereo/ros/standins take their place and `STANDINS_IN_USE` names them.
"""

_standins = []

try:
    import message_filters
except ImportError:
    from raiv_stereo.ros.standins import message_filters
    _standins.append('message_filters')

try:
    from cv_bridge import CvBridge, CvBridgeError
except ImportError:
    from raiv_stereo.ros.standins.cv_bridge import CvBridge, CvBridgeError
    _standins.append('cv_bridge')

STANDINS_IN_USE: tuple[str, ...] = tuple(_standins)
del _standins

__all__ = ['message_filters', 'CvBridge', 'CvBridgeError', 'STANDINS_IN_USE']
