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

from raiv_stereo.params import defaults
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

_FILE = 'path; empty = not used'

PARAMETERS: tuple[ParamSpec, ...] = (
    _param('source', defaults.SOURCE,
           "frame source: 'sample' built-in synthetic scene, 'images' files, 'video' files, "
           "'camera' OpenCV capture, 'raiv' the on-device SDK, 'stream' pushed by the device, "
           "'bag' a recorded rosbag2 stereo bag",
           choices=defaults.SOURCES),
    _param('rate_hz', defaults.RATE_HZ,
           'publish rate, Hz (sample, images, video, camera); stream and raiv publish what '
           'arrives', FloatRange(0.1, 1000.0), read_only=False),
    _param('loop', defaults.LOOP,
           'start finite sources (images, video) again at their end; false = publish once and '
           'stop'),
    _param('encoding', defaults.ENCODING,
           'published image encoding (colour or grey)', choices=defaults.ENCODINGS,
           read_only=False),
    _param('scale', defaults.CAMERA_SCALE,
           'published image size relative to the calibration (1.0 = sensor size); images are '
           'resized and CameraInfo scaled to match',
           FloatRange(defaults.MIN_CAMERA_SCALE, 1.0)),
    _param('camera_name', defaults.CAMERA_NAME,
           'camera name: default frame ids and ~/.ros/camera_info/<camera_name>_left.yaml'),
    _param('left_frame_id', '',
           'left header frame_id; empty = <camera_name>_left_optical_frame (REP 103/105)',
           read_only=False),
    _param('right_frame_id', '',
           'right header frame_id; empty = <camera_name>_right_optical_frame',
           read_only=False),
    _param('publish_tf', defaults.PUBLISH_TF,
           'publish <camera_name>_link -> left/right camera frames -> optical frames on '
           '/tf_static (baseline from the calibration); false when a robot_state_publisher '
           'does it from urdf/raiv.urdf.xacro'),
    _param('publish_compressed', defaults.PUBLISH_COMPRESSED,
           'also publish left/right/image_raw/compressed (sensor_msgs/CompressedImage, JPEG, '
           "as image_transport's compressed plugin) for remote viewing; encoded only while "
           'subscribed'),
    _param('jpeg_quality', defaults.JPEG_QUALITY,
           'JPEG quality of the compressed images (1..100)', IntRange(1, 100), read_only=False),
    _param('calibration_file', '',
           'OpenCV stereo calibration (K1, D1, K2, D2, R, T, image size); ' + _FILE),
    _param('left_calibration_file', '',
           'left camera_info YAML (with right_calibration_file); set_camera_info writes it; '
           + _FILE),
    _param('right_calibration_file', '',
           'right camera_info YAML (with left_calibration_file); ' + _FILE),
    _param('baseline_mm', defaults.BASELINE_MM,
           'stereo baseline, mm, for the nominal calibration (no file, no device calibration)',
           FloatRange(1.0, 10000.0)),
    _param('focal_length_mm', defaults.FOCAL_LENGTH_MM,
           'RAiV lens focal length, mm, for the nominal calibration (config/lens_*.yaml has '
           "each lens's depth range; other lenses: give a calibration file)",
           choices=defaults.RAIV_LENSES_MM),
    _param('pixel_size_um', defaults.PIXEL_SIZE_UM,
           'sensor pixel size, um, for the nominal calibration', FloatRange(0.1, 100.0)),
    _param('raiv_input', defaults.RAIV_INPUT,
           "raiv source: 'frame' = getDataFrame(), the raw 1600x1300 pair; 'ai' = getDataAi(), "
           "the AI processor's input frames (size from getMemoryConfiguration())",
           choices=defaults.RAIV_INPUTS),
    _param('swap_left_right', defaults.SWAP_LEFT_RIGHT,
           "raiv source: false = the maker's stereo-frame order (index 1 left, index 0 right); "
           'true = the other way round (the depth node says when the pair looks swapped)'),
    _param('exposure', defaults.EXPOSURE_KEEP,
           "exposure in the device's units (raiv source; range from get_cam_ctrl_ranges()); "
           f"{defaults.EXPOSURE_KEEP} = keep the device's setting", IntRange(-1, 10**6),
           read_only=False),
    _param('gain', defaults.EXPOSURE_KEEP,
           "gain in the device's units (raiv source; range from get_cam_ctrl_ranges()); "
           f"{defaults.EXPOSURE_KEEP} = keep the device's setting", IntRange(-1, 10**6),
           read_only=False),
    _param('auto_exposure', defaults.AUTO_EXPOSURE,
           'raiv source: adjust exposure, then gain, once a second toward a mean level of 128 '
           '(exposure and gain then follow; setting them by hand needs auto_exposure false)',
           read_only=False),
    _param('sample_frames', defaults.SAMPLE_FRAMES,
           'sample source: render this many frames once, then replay them in a loop (no '
           'rendering per frame, 12.5 MB of memory per 1600x1300 bgr8 pair); 0 = render every '
           'frame', IntRange(0, 1000)),
    _param('images_left', '',
           'images source: left image file, directory or glob pattern; ' + _FILE),
    _param('images_right', '',
           'images source: right image file, directory or glob pattern; ' + _FILE),
    _param('images_list', '',
           'images source: text file of "left right" path pairs, one per line; ' + _FILE),
    _param('video_left', '', 'video source: left video file; ' + _FILE),
    _param('video_right', '', 'video source: right video file; ' + _FILE),
    _param('video_side_by_side', '',
           'video source: one side-by-side video (left half | right half); ' + _FILE),
    _param('bag_path', '',
           'bag source: rosbag2 folder (SQLite3 or MCAP) to replay at its recorded rate, with '
           'its camera_info as the calibration; ' + _FILE),
    _param('bag_topics', '',
           'bag source: left image, right image, left camera_info, right camera_info topics, '
           "comma-separated; empty = found by name ('left'/'right', image_raw first)"),
    _param('camera_device_left', '',
           'camera source: left device index or path (e.g. 0 or /dev/video0); the one '
           'device when camera_side_by_side'),
    _param('camera_device_right', '', 'camera source: right device index or path'),
    _param('camera_side_by_side', False,
           'camera source: camera_device_left is one side-by-side stereo camera (left half | '
           'right half)'),
    _param('camera_width', defaults.CAMERA_DEVICE_SIZE_PX,
           'camera source: requested capture width, px (side-by-side: both halves); 0 = '
           "the device's", IntRange(0, 16384)),
    _param('camera_height', defaults.CAMERA_DEVICE_SIZE_PX,
           "camera source: requested capture height, px; 0 = the device's",
           IntRange(0, 16384)),
    _param('camera_fps', defaults.CAMERA_FPS,
           "camera source: requested capture rate, Hz; 0 = the device's",
           FloatRange(0.0, 1000.0)),
    _param('stream_mode', defaults.STREAM_MODE,
           "stream source: 'listen' for the device to connect, or 'connect' to the device",
           choices=defaults.STREAM_MODES),
    _param('stream_host', defaults.STREAM_HOST,
           'stream source: address to listen on, or the device to connect to'),
    _param('stream_port', defaults.STREAM_PORT, 'stream source: TCP port',
           IntRange(1, 65535)),
    _param('stream_token', 'auto',
           "stream source: shared secret a sender must present; 'auto' = generated on first "
           'start, kept in $ROS_HOME/raiv_stereo/stream_token and logged with the sender '
           "command line; 'none' = no token (a warning at start)"),
    _param('stream_timeout_s', defaults.STREAM_TIMEOUT_S,
           'stream source: a sender silent this long (or stalled mid-frame) is dropped, s',
           FloatRange(0.1, 3600.0)),
    _param('stream_max_senders', defaults.STREAM_MAX_SENDERS,
           'stream source: senders connected at a time', IntRange(1, 16)),
    _param('stream_compression', defaults.STREAM_COMPRESSION,
           "stream source: image compression accepted from the sender ('any' = whatever it "
           'sends)', choices=defaults.STREAM_COMPRESSIONS),
    _param('stream_tls_cert', '',
           'stream source (listen): TLS certificate, PEM; senders connect with --tls-ca; '
           + _FILE),
    _param('stream_tls_key', '',
           "stream source: the certificate's private key, PEM (empty = in stream_tls_cert)"),
)

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
    source = v['source']
    if source == 'images':
        pair = bool(v['images_left']) and bool(v['images_right'])
        if not pair and not v['images_list']:
            problems.append("source 'images' needs images_left and images_right (files, "
                            'directories or glob patterns) or images_list')
        elif pair and v['images_list']:
            problems.append('give images_left/images_right or images_list, not both')
    elif source == 'video':
        pair = bool(v['video_left']) and bool(v['video_right'])
        if pair == bool(v['video_side_by_side']):
            problems.append("source 'video' needs video_left and video_right, or "
                            'video_side_by_side (one of the two)')
    elif source == 'camera':
        if v['camera_side_by_side'] and not v['camera_device_left']:
            problems.append('camera_side_by_side needs camera_device_left (an index such as 0 '
                            'or a path such as /dev/video0)')
        elif not v['camera_side_by_side'] and \
                not (v['camera_device_left'] and v['camera_device_right']):
            problems.append("source 'camera' needs camera_device_left and camera_device_right, "
                            'or camera_side_by_side:=true with camera_device_left')
    elif source == 'bag' and not v['bag_path'].strip():
        problems.append("source 'bag' needs bag_path (a rosbag2 folder)")
    elif source == 'stream' and v['stream_mode'] == 'connect' and \
            v['stream_host'] in ('', '0.0.0.0', '::'):
        problems.append("stream_mode 'connect' needs stream_host set to the device's address")
    if source == 'stream' and v['stream_tls_key'] and not v['stream_tls_cert']:
        problems.append('stream_tls_key needs stream_tls_cert (the certificate, PEM)')
    if source == 'stream' and v['stream_tls_cert'] and v['stream_mode'] != 'listen':
        problems.append("stream_tls_cert works with stream_mode 'listen' only")
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
