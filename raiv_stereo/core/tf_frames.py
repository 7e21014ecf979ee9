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
The camera's coordinate frames (REP 103/105) and the static transforms between them.

`<camera>_link` is the camera body (x forward, y left, z up) at the left camera; the right camera
is the baseline away along -y; each camera frame has its optical frame (z forward, x right,
y down). urdf/raiv.urdf.xacro describes the same tree for a robot's URDF.
"""

from __future__ import annotations

from dataclasses import dataclass

OPTICAL_ROTATION_XYZW = (-0.5, 0.5, -0.5, 0.5)
"""Body (x forward, y left, z up) -> optical (z forward, x right, y down): rpy (-90°, 0, -90°)."""


@dataclass(frozen=True)
class StaticTransform:
    """`child`'s pose in `parent`: translation in metres, rotation as a unit quaternion."""

    parent: str
    child: str
    translation_m: tuple[float, float, float]
    rotation_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)


def link_frame(camera_name: str) -> str:
    """Return the camera body frame's id."""
    return f'{camera_name}_link'


def optical_frames(camera_name: str) -> tuple[str, str]:
    """Return the default left/right optical frame ids (the image headers' frame_id)."""
    return f'{camera_name}_left_optical_frame', f'{camera_name}_right_optical_frame'


def camera_transforms(camera_name: str, baseline_m: float, left_optical: str | None = None,
                      right_optical: str | None = None) -> list[StaticTransform]:
    """Return link -> left/right camera frames -> optical frames for a stereo pair."""
    if not baseline_m > 0:
        raise ValueError(f'baseline must be positive, got {baseline_m} m')
    default_left, default_right = optical_frames(camera_name)
    link = link_frame(camera_name)
    left, right = f'{camera_name}_left_camera_frame', f'{camera_name}_right_camera_frame'
    return [StaticTransform(link, left, (0.0, 0.0, 0.0)),
            StaticTransform(link, right, (0.0, -float(baseline_m), 0.0)),
            StaticTransform(left, left_optical or default_left, (0.0, 0.0, 0.0),
                            OPTICAL_ROTATION_XYZW),
            StaticTransform(right, right_optical or default_right, (0.0, 0.0, 0.0),
                            OPTICAL_ROTATION_XYZW)]
