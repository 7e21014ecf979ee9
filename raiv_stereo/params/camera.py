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
The camera node's parameters as plain data: names, types, defaults, ranges and their checks.

No ROS import: the node declares its descriptors and checks changes with TABLE, the launch
arguments and the command-line options that carry the same settings are checked with it, and the
README table is generated from it.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping

from raiv_stereo import sources
from raiv_stereo.core import rig
from raiv_stereo.params.spec import (
    coerce,
    FloatRange,
    IntRange,
    loosely_typed,
    ParamSpec,
    ParamTable,
    value_problem,
)

__all__ = ['FloatRange', 'IntRange', 'ParamSpec', 'PARAMETERS', 'TABLE',
           'camera_settings_problems', 'coerce', 'loosely_typed', 'parameter_table_markdown',
           'value_problem']

_param = partial(ParamSpec, read_only=True)
"""Camera parameters are read-only unless marked (changing the source means a restart)."""

_FILE = sources.FILE_OPTION

CAMERA_NAME = 'raiv'
"""Makes the frame ids (raiv_left_optical_frame, ...) and the camera_info file names."""
EXPOSURE_KEEP = -1
"""exposure/gain value that leaves the device's setting as it is."""

PARAMETERS: tuple[ParamSpec, ...] = (
    _param('source', 'sample',
           "frame source: 'sample' built-in synthetic scene, 'images' files, 'video' files, "
           "'camera' OpenCV capture, 'raiv' the on-device SDK, 'stream' pushed by the device, "
           "'bag' a recorded rosbag2 stereo bag",
           choices=sources.KINDS),
    _param('rate_hz', sources.RATE_HZ,
           'publish rate, Hz (sample, images, video, camera); stream and raiv publish what '
           'arrives', FloatRange(0.1, 1000.0), read_only=False),
    _param('loop', sources.LOOP,
           'start finite sources (images, video) again at their end; false = publish once and '
           'stop'),
    _param('encoding', 'bgr8',
           'published image encoding (colour or grey)', choices=('mono8', 'bgr8'),
           read_only=False),
    _param('scale', 1.0,
           'published image size relative to the calibration (1.0 = sensor size); images are '
           'resized and CameraInfo scaled to match',
           FloatRange(0.05, 1.0)),
    _param('camera_name', CAMERA_NAME,
           'camera name: default frame ids and ~/.ros/camera_info/<camera_name>_left.yaml'),
    _param('left_frame_id', '',
           'left header frame_id; empty = <camera_name>_left_optical_frame (REP 103/105)',
           read_only=False),
    _param('right_frame_id', '',
           'right header frame_id; empty = <camera_name>_right_optical_frame',
           read_only=False),
    _param('publish_tf', True,
           'publish <camera_name>_link -> left/right camera frames -> optical frames on '
           '/tf_static (baseline from the calibration); false when a robot_state_publisher '
           'does it from urdf/raiv.urdf.xacro'),
    _param('publish_compressed', False,
           'also publish left/right/image_raw/compressed (sensor_msgs/CompressedImage, JPEG, '
           "as image_transport's compressed plugin) for remote viewing; encoded only while "
           'subscribed'),
    _param('jpeg_quality', 90,
           'JPEG quality of the compressed images (1..100)', IntRange(1, 100), read_only=False),
    _param('calibration_file', '',
           'OpenCV stereo calibration (K1, D1, K2, D2, R, T, image size); ' + _FILE),
    _param('left_calibration_file', '',
           'left camera_info YAML (with right_calibration_file); set_camera_info writes it; '
           + _FILE),
    _param('right_calibration_file', '',
           'right camera_info YAML (with left_calibration_file); ' + _FILE),
    _param('baseline_mm', rig.BASELINE_MM,
           'stereo baseline, mm, for the nominal calibration (no file, no device calibration)',
           FloatRange(1.0, 10000.0)),
    _param('focal_length_mm', rig.FOCAL_LENGTH_MM,
           'RAiV lens focal length, mm, for the nominal calibration (config/lens_*.yaml has '
           "each lens's depth range; other lenses: give a calibration file)",
           choices=rig.LENSES_MM),
    _param('pixel_size_um', rig.PIXEL_SIZE_UM,
           'sensor pixel size, um, for the nominal calibration', FloatRange(0.1, 100.0)),
    _param('exposure', EXPOSURE_KEEP,
           "exposure in the device's units (raiv source; range from get_cam_ctrl_ranges()); "
           f"{EXPOSURE_KEEP} = keep the device's setting", IntRange(-1, 10**6),
           read_only=False),
    _param('gain', EXPOSURE_KEEP,
           "gain in the device's units (raiv source; range from get_cam_ctrl_ranges()); "
           f"{EXPOSURE_KEEP} = keep the device's setting", IntRange(-1, 10**6),
           read_only=False),
    _param('auto_exposure', False,
           'raiv source: adjust exposure, then gain, once a second toward a mean level of 128 '
           '(exposure and gain then follow; setting them by hand needs auto_exposure false)',
           read_only=False),
) + sources.all_option_specs()
"""The node's own settings, then each source's options as '<kind>.<option>' (from the source)."""

EXPOSURE_PARAMETERS = ('exposure', 'gain', 'auto_exposure')
"""Declared after the source opens: their ranges come from the device's camera control."""


def _problems_together(v: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with the camera settings taken together."""
    problems: list[str] = []
    if bool(v['left_calibration_file']) != bool(v['right_calibration_file']):
        problems.append('give both left_calibration_file and right_calibration_file (a '
                        'camera_info YAML pair), or neither')
    if v['calibration_file'] and (v['left_calibration_file'] or v['right_calibration_file']):
        problems.append('give either calibration_file (OpenCV stereo) or the left/right '
                        'camera_info pair, not both')
    if v['left_frame_id'] and v['left_frame_id'] == v['right_frame_id']:
        problems.append(f'left_frame_id and right_frame_id are both {v["left_frame_id"]!r}; the '
                        'two cameras need different frames')
    name = v['camera_name'].strip()
    if not name and not (v['left_frame_id'] and v['right_frame_id']):
        problems.append('camera_name is empty; give a name (it makes the frame ids) or both '
                        'frame ids')
    elif name and (not name.replace('_', 'a').isalnum() or name[0].isdigit()):
        problems.append(f'camera_name {name!r} must be a ROS name: letters, digits and _, not '
                        'starting with a digit (it makes the frame ids)')
    if v['source'] in sources.KINDS:
        problems += sources.options_problems(v['source'], v)
    return problems


TABLE = ParamTable(PARAMETERS, (_problems_together,))
BY_NAME: dict[str, ParamSpec] = TABLE.by_name


def default_values() -> dict[str, Any]:
    """Return every parameter's default value by name."""
    return TABLE.defaults()


def camera_settings_problems(values: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with these parameter values, alone or together (empty = usable)."""
    return TABLE.problems(values)


def parameter_table_markdown() -> str:
    """Return the parameters as a Markdown table (for the README)."""
    return TABLE.markdown()
