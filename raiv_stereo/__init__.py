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
raiv_stereo: disparity and depth from the RAiV stereo camera or any calibrated stereo pair.

Only raiv_stereo/ros/ imports rclpy and the ROS message packages (at module top), so the core and
the offline commands run without ROS; a tool that runs nodes keeps its options and report in
tools/ and imports its ros/ part once, deferred, where it runs (test_core_without_ros.py).
"""

__version__ = '0.1.0'
