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

"""The RAiV camera as its maker describes it: geometry, lenses and the working point."""

BASELINE_MM = 65.0
FOCAL_LENGTH_MM = 2.8
"""The default lens."""
PIXEL_SIZE_UM = 3.0
SENSOR_WIDTH_PX = 1600
SENSOR_HEIGHT_PX = 1300
SENSOR_SIZE_PX = (SENSOR_WIDTH_PX, SENSOR_HEIGHT_PX)
LENSES_MM = (2.8, 3.6, 4.0, 6.0, 8.0, 12.0, 16.0, 25.0)
"""The lenses the camera is sold with."""

WORKING_SCALE = 0.5
"""The maker's working resolution for speed: 800x650 from the 1600x1300 sensor."""
MIN_DEPTH_MM = 300.0
MAX_DEPTH_MM = 3000.0
"""The maker's depth range with the default lens at WORKING_SCALE."""
