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

"""Every default value of the package, in one place (nodes, launch files, CLI and docs)."""

# RAiV camera geometry (maker's published figures, ../shared/raiv_reference.md).
BASELINE_MM = 65.0
FOCAL_LENGTH_MM = 2.8
PIXEL_SIZE_UM = 3.0
SENSOR_WIDTH_PX = 1600
SENSOR_HEIGHT_PX = 1300
RAIV_LENSES_MM = (2.8, 3.6, 4.0, 6.0, 8.0, 12.0, 16.0, 25.0)

# Depth range and working resolution: the maker's 800x650 "for speed", 300-3000 mm with the
# 2.8 mm lens.
MIN_DEPTH_MM = 300.0
MAX_DEPTH_MM = 3000.0
SCALE = 0.5
MIN_SCALE = 0.25
MAX_SCALE = 1.0

# StereoSGBM (OpenCV's rules: odd block size, disparities in multiples of 16).
BLOCK_SIZE = 5
UNIQUENESS_RATIO = 5  # 0 gives the lowest bad-2 on stereo_data; 5 rejects ambiguous matches
SPECKLE_WINDOW_SIZE = 100
SPECKLE_RANGE = 2
DISP12_MAX_DIFF = 1
PRE_FILTER_CAP = 63
SGBM_MODE = 'sgbm_3way'
SGBM_MODES = ('sgbm', 'sgbm_3way', 'hh', 'hh4')
POST_FILTERS = ('none', 'wls')
POST_FILTER = 'none'
SUBPIXELS = ('sgbm', 'refine')
SUBPIXEL = 'refine'
SGBM_RESOLUTIONS = ('full', 'half_rows', 'half')
SGBM_RESOLUTION = 'half'
MIN_CONFIDENCE = 0.5  # matched pixels, the left border included; 0.25 adds filled holes

# Nodes and launch.
NAMESPACE = 'raiv'
CAMERA_NAME = 'raiv'
PUBLISH_TF = True
PUBLISH_COMPRESSED = False
JPEG_QUALITY = 90
INPUT_TRANSPORTS = ('raw', 'compressed')
INPUT_TRANSPORT = 'raw'
RATE_HZ = 10.0
SAMPLE_FRAMES = 0
"""Sample source: 0 renders every frame; N > 0 renders N frames once and replays them."""
ENCODING = 'bgr8'
ENCODINGS = ('mono8', 'bgr8')
DEPTH_FORMAT = '32FC1'
DEPTH_FORMATS = ('32FC1', '16UC1')
STREAM_PORT = 12345
QUEUE_SIZE = 5

# Depth node (raiv_stereo/params/depth.py describes each one).
INPUT_RECTIFIED = False
SYNC = 'exact'
SYNC_MODES = ('exact', 'approximate')
ON_SWAPPED_PAIR = 'swap'
ON_SWAPPED_PAIRS = ('swap', 'stop')
SYNC_SLOP_S = 0.01
MIN_DISPARITY = -1  # -1 = from the depth range
NUM_DISPARITIES = 0  # 0 = from the depth range
P1 = 0  # 0 = P1_PER_BLOCK_PX * block_size^2
P2 = 0  # 0 = P2_PER_BLOCK_PX * block_size^2
P1_PER_BLOCK_PX = 16
P2_PER_BLOCK_PX = 96
"""Chosen across the 11 stereo_data scenes (doc/benchmarks.md): with the left border matched,
16/96 gave the lowest mean bad-2 of 8/32 (OpenCV's rule), 8/96, 16/64, 24/96 at blocks 5 and 7."""
MASK_OUT_OF_RANGE = True
POINT_CLOUD_RGB = True
POINT_CLOUD_KEEP_NAN = False
DIAGNOSTICS_PERIOD_S = 2.0
CALIBRATION_CHECK_PERIOD_S = 10.0  # one sparse-match check per period (cost: doc/benchmarks.md)
TEMPORAL_FILTER_ALPHA = 0.0  # off: it lags behind motion (doc/post_filters.md)
SPATIAL_FILL_PX = 0  # off: no gain measured on the rig (doc/post_filters.md)
CALIBRATION_CORRECTION = False  # a correction hides a moved camera: the user opts in
SYNC_WARNING_S = 3.0

# Camera node (raiv_stereo/params/camera.py describes each one).
SOURCE = 'sample'
CAMERA_SCALE = 1.0  # published size relative to the calibration's (sensor) size
MIN_CAMERA_SCALE = 0.05
LOOP = True
CAMERA_DEVICE_SIZE_PX = 0  # 0 = the capture device's own width/height
CAMERA_FPS = 0.0  # 0 = the capture device's own rate
STREAM_MODES = ('listen', 'connect')
STREAM_MODE = 'listen'
STREAM_HOST = '0.0.0.0'
STREAM_TIMEOUT_S = 5.0
STREAM_MAX_SENDERS = 1
STREAM_COMPRESSIONS = ('any', 'none', 'png', 'jpeg')
STREAM_COMPRESSION = 'any'
RAIV_INPUTS = ('frame', 'ai')
RAIV_INPUT = 'frame'  # getDataFrame(): the raw 1600x1300 stereo pair
SWAP_LEFT_RIGHT = False  # False = the maker's stereo-frame example: index 1 left, index 0 right
EXPOSURE_KEEP = -1  # exposure/gain parameter value that leaves the device's setting as it is
AUTO_EXPOSURE = False
STREAM_POLL_HZ = 200.0  # how often the node polls a pushed (stream, raiv) source
ERROR_THROTTLE_S = 5.0
