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
set_camera_info for the camera node: where a calibration is stored, and what is accepted.

Pure functions (no Node state): the node's service handler stores what they return and says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from raiv_stereo.core.calibration import (
    CalibrationError,
    CameraModel,
    same_aspect,
    StereoCalibration,
)


def ros_home() -> Path:
    """Return $ROS_HOME, else ~/.ros (where camera_info_manager keeps calibrations)."""
    return Path(os.environ.get('ROS_HOME') or Path.home() / '.ros')


def calibration_paths(left_file: str, right_file: str, camera_name: str) -> tuple[Path, Path]:
    """Return where set_camera_info stores each camera (the YAML pair, else ~/.ros)."""
    if left_file and right_file:
        return Path(left_file), Path(right_file)
    folder = ros_home() / 'camera_info'
    return folder / f'{camera_name}_left.yaml', folder / f'{camera_name}_right.yaml'


def checked_model(model: CameraModel, side: str, size: tuple[int, int]) -> CameraModel:
    """Return `model` at the published `size` (w, h); CalibrationError says what is wrong."""
    width, height = size
    if model.width_px <= 0 or model.height_px <= 0:
        raise CalibrationError(f'image size {model.width_px}x{model.height_px} is not '
                               'positive')
    if not same_aspect((model.width_px, model.height_px), size):
        raise CalibrationError(
            f'image size {model.width_px}x{model.height_px} does not have the aspect ratio '
            f'of the published {width}x{height} images')
    if (model.width_px, model.height_px) != (width, height):
        model = model.scaled_to(width, height)
    if model.K[0, 0] <= 0 or model.K[1, 1] <= 0 or model.P[0, 0] <= 0 or model.P[1, 1] <= 0:
        raise CalibrationError('K and P need positive focal lengths (is the camera '
                               'calibrated?)')
    if side == 'right' and model.P[0, 3] > 0:
        raise CalibrationError(
            f'right P[0,3] (Tx) is {model.P[0, 3]:g} > 0; ROS expects -fx * baseline_m < 0 '
            '(left and right swapped?)')
    return model


def with_camera(calibration: StereoCalibration, index: int, model: CameraModel,
                path: Path) -> tuple[StereoCalibration, str]:
    """
    Return `calibration` (full size) with camera `index` replaced by `model`, and a note.

    The pair is kept even when not consistent yet (the other camera comes next): the note says so.
    """
    full = [calibration.left, calibration.right]
    full[index] = model.scaled_to(*calibration.image_size)
    description = f'set_camera_info, stored in {path}'
    try:
        return StereoCalibration(full[0], full[1], description).validate(), ''
    except CalibrationError as error:
        return (StereoCalibration(full[0], full[1], description),
                f' (the pair is not consistent yet: {error}; set the other camera too)')


def next_start_note(path: Path, calibration_file: str) -> str:
    """Say how the stored calibration is used at the next start ('' when it already is)."""
    if calibration_file:
        return ('; calibration_file is set and takes precedence at the next start: pass '
                'left/right_calibration_file instead')
    if path.parent == ros_home() / 'camera_info':
        return ('; to use it at the next start pass left_calibration_file and '
                'right_calibration_file')
    return ''
