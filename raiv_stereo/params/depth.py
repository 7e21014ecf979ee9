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
The depth node's parameters as plain data: names, types, defaults, ranges and their checks.

No ROS import: the node's descriptors and on-set checks, the launch arguments, the `depth`,
`range` and `demo` options that carry the same settings and the README table all come from TABLE,
so the matcher can trust the settings it is given.
"""

from __future__ import annotations

from typing import Any, Mapping

from raiv_stereo.core import rig
from raiv_stereo.core.matching import sgbm
from raiv_stereo.core.matching.sgbm import (
    disparity_px,
    MatcherSettings,
    min_width_px,
    search_window,
    wls_available,
)
from raiv_stereo.core.post_filters import PostFilterSettings
from raiv_stereo.params.spec import FloatRange, IntRange, ParamSpec, ParamTable

__all__ = ['FloatRange', 'IntRange', 'ParamSpec', 'PARAMETERS', 'TABLE', 'depth_settings_problems',
           'matcher_settings', 'parameter_table_markdown']

SGBM_MAX_BLOCK_SIZE = 31
"""Largest SGBM block size the node accepts (OpenCV needs odd sizes; beyond 31 is only blur)."""
MAX_NUM_DISPARITIES = 1024
"""Largest explicit search width; OpenCV needs a positive multiple of 16."""
MAX_IMAGE_PIXELS = 4096 * 4096
"""Largest input image the depth node accepts, pixels per camera (8x the RAiV's 1600x1300):
larger pairs are refused before they are converted, so one pair cannot hold the node and its
memory for many seconds."""

_MATCHER = MatcherSettings()
"""The matcher's own defaults: the node's matching settings default to them."""
_POST_FILTERS = PostFilterSettings()

INPUT_RELIABILITIES = ('reliable', 'best_effort')
INPUT_RELIABILITY = 'reliable'
"""Reliability of the input subscriptions unless qos_overrides set another (REP 2003 lets a
sensor driver choose): large images between processes arrive whole; 'best_effort' suits
best-effort publishers. The launch argument input_qos defaults to it."""


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('input_rectified', False,
              'subscribe to left/image_rect and right/image_rect (already rectified) instead of '
              'image_raw', read_only=True),
    ParamSpec('input_transport', 'raw',
              "'raw' images, or 'compressed': subscribe to <image topic>/compressed "
              "(sensor_msgs/CompressedImage, JPEG or PNG, as image_transport's compressed "
              'plugin publishes)', choices=('raw', 'compressed'), read_only=True),
    ParamSpec('sync', 'exact',
              "pairing of left/right images and camera_infos: 'exact' stamps (one trigger) or "
              "'approximate' within sync_slop_s (free-running cameras)",
              choices=('exact', 'approximate'), read_only=True),
    ParamSpec('sync_slop_s', 0.01,
              'largest left/right stamp difference paired by approximate sync, s',
              FloatRange(0.0001, 1.0), read_only=True),
    ParamSpec('queue_size', 5,
              'message_filters queue length per topic', IntRange(1, 100), read_only=True),
    ParamSpec('scale', rig.WORKING_SCALE,
              "working resolution relative to the input images (0.5 = the maker's 800x650 "
              'from 1600x1300)', FloatRange(0.25, 1.0)),
    ParamSpec('min_depth_mm', _MATCHER.min_depth_mm,
              'nearest depth to measure, mm: sets the largest disparity searched',
              FloatRange(10.0, 1.0e6)),
    ParamSpec('max_depth_mm', _MATCHER.max_depth_mm,
              'farthest depth to measure, mm: sets the smallest disparity searched',
              FloatRange(10.0, 1.0e6)),
    ParamSpec('min_disparity', -1,
              'smallest disparity searched, px at working scale; -1 = from max_depth_mm',
              IntRange(-1, MAX_NUM_DISPARITIES)),
    ParamSpec('num_disparities', 0,
              'number of disparities searched (multiple of 16); 0 = from the depth range',
              IntRange(0, MAX_NUM_DISPARITIES, 16)),
    ParamSpec('block_size', _MATCHER.block_size,
              'SGBM matching block size, px (odd)', IntRange(1, SGBM_MAX_BLOCK_SIZE, 2)),
    ParamSpec('p1', _MATCHER.p1,
              'SGBM smoothness penalty for disparity changes of 1; 0 = '
              f'{sgbm.P1_PER_BLOCK_PX} * block_size^2', IntRange(0, 100000)),
    ParamSpec('p2', _MATCHER.p2,
              'SGBM smoothness penalty for larger disparity changes (> p1); 0 = '
              f'{sgbm.P2_PER_BLOCK_PX} * block_size^2', IntRange(0, 400000)),
    ParamSpec('uniqueness_ratio', _MATCHER.uniqueness_ratio,
              'margin, percent, by which the best match must beat the second best',
              IntRange(0, 100)),
    ParamSpec('speckle_window_size', _MATCHER.speckle_window_size,
              'largest speckle region removed, px; 0 = no speckle filter', IntRange(0, 10000)),
    ParamSpec('speckle_range', _MATCHER.speckle_range,
              'largest disparity variation inside one connected region, px', IntRange(0, 64)),
    ParamSpec('disp12_max_diff', _MATCHER.disp12_max_diff,
              'largest left-right consistency difference, px; -1 = no check',
              IntRange(-1, MAX_NUM_DISPARITIES)),
    ParamSpec('pre_filter_cap', _MATCHER.pre_filter_cap,
              'clip of the x-derivative pre-filter', IntRange(1, 63)),
    ParamSpec('sgbm_mode', _MATCHER.mode,
              "SGBM variant: 'sgbm' (5 directions), 'sgbm_3way' (fastest), 'hh' (8 directions, "
              "full), 'hh4'", choices=sgbm.SGBM_MODES),
    ParamSpec('post_filter', _MATCHER.post_filter,
              "disparity post-filter: 'none' or 'wls' (edge-aware, needs opencv-contrib)",
              choices=sgbm.POST_FILTERS),
    ParamSpec('temporal_filter_alpha', _POST_FILTERS.temporal_alpha,
              "temporal post-filter for static scenes: each pixel's disparity = alpha x new + "
              '(1 - alpha) x previous where they differ by at most 1 px (edges and motion take '
              'the new value), and kept through 2 frames without depth; 0 = off',
              FloatRange(0.0, 1.0)),
    ParamSpec('spatial_fill_px', _POST_FILTERS.spatial_fill_px,
              'edge-preserving spatial fill: holes of at most this many px along a row or '
              'column are interpolated when both ends lie within 1 px of disparity (occlusions '
              'beside depth edges stay empty); 0 = off', IntRange(0, 64)),
    ParamSpec('subpixel', _MATCHER.subpixel,
              "sub-pixel disparity: 'refine' = contrast-normalised Lucas-Kanade steps on the "
              "rectified pair, free of SGBM's pull toward whole pixels; 'sgbm' = SGBM's own "
              'parabola fit (faster)',
              choices=sgbm.SUBPIXELS),
    ParamSpec('sgbm_resolution', _MATCHER.sgbm_resolution,
              "where SGBM runs: 'full' working resolution; 'half_rows' = rows averaged in "
              "pairs (every disparity, half the vertical detail, faster); 'half' = half width "
              'and height, its disparities refined there, doubled and refined again at full '
              'resolution (the fastest, blurrier edges)',
              choices=sgbm.SGBM_RESOLUTIONS),
    ParamSpec('min_confidence', _MATCHER.min_confidence,
              'depth and disparity only where depth/confidence is at least this: 1 = matched '
              'over the whole search window, 0.5 = also the left border (part of the window '
              'beyond the image edge), 0.25 = also holes filled from the farther neighbour '
              'on the row (occlusions, rejected matches)', FloatRange(0.0, 1.0)),
    ParamSpec('depth_format', '32FC1',
              'depth/image_rect encoding (REP 118): 32FC1 metres, NaN = no depth; 16UC1 '
              'millimetres, 0 = no depth', choices=('32FC1', '16UC1')),
    ParamSpec('mask_out_of_range', True,
              'mark depths outside min_depth_mm..max_depth_mm as no depth'),
    ParamSpec('point_cloud_rgb', True,
              'add the rectified left colour to the points (XYZRGB instead of XYZ)'),
    ParamSpec('point_cloud_keep_nan', False,
              'keep pixels without depth as NaN points (organized cloud) instead of dropping '
              'them'),
    ParamSpec('on_swapped_pair', 'swap',
              'when the images show left and right swapped (checked on the first pairs, then '
              "every few while swapped): 'swap' = exchange them here and say so once; 'stop' = "
              'publish no depth, disparity or points until they arrive in order',
              choices=('swap', 'stop')),
    ParamSpec('diagnostics_period_s', 2.0,
              'period of /diagnostics, s (its statistics also reach the log once a minute '
              'while frames flow, and at DEBUG every period)', FloatRange(0.1, 3600.0),
              read_only=True),
    ParamSpec('calibration_check_period_s', 10.0,
              'period of the calibration health check (vertical offset and roll of sparse '
              "feature matches on the rectified pair, on /diagnostics as 'raiv_stereo: "
              "calibration'), s; 0 = off", FloatRange(0.0, 3600.0)),
    ParamSpec('calibration_correction', False,
              'undo the vertical shift and roll the health check measures by warping the right '
              'rectified image (logged when applied); the calibration file is not changed'),
)


def _depth_range(v: Mapping[str, Any]) -> str | None:
    if v['min_depth_mm'] >= v['max_depth_mm']:
        return (f'min_depth_mm ({v["min_depth_mm"]:g}) must be below max_depth_mm '
                f'({v["max_depth_mm"]:g})')
    return None


def _explicit_window(v: Mapping[str, Any]) -> str | None:
    # Either may be set alone: the other then comes from the depth range (StereoMatcher).
    if v['min_disparity'] >= 0 and v['num_disparities'] and \
            v['min_disparity'] + v['num_disparities'] > MAX_NUM_DISPARITIES + 16:
        return (f'search window min_disparity + num_disparities '
                f'({v["min_disparity"] + v["num_disparities"]}) is beyond '
                f'{MAX_NUM_DISPARITIES + 16} px')
    return None


def _penalties(v: Mapping[str, Any]) -> str | None:
    if (v['p1'] or v['p2']) and not 0 < v['p1'] < v['p2']:
        return (f'p1 ({v["p1"]}) must be below p2 ({v["p2"]}) (OpenCV SGBM), or both 0 for the '
                'defaults from block_size')
    return None


def _post_filter(v: Mapping[str, Any]) -> str | None:
    if v['post_filter'] == 'wls' and not wls_available():
        return ("post_filter 'wls' needs OpenCV's ximgproc: install "
                'opencv-contrib-python-headless (ROS: ros-<distro>-opencv-contrib)')
    return None


TABLE = ParamTable(PARAMETERS, (_depth_range, _explicit_window, _penalties, _post_filter))
BY_NAME: dict[str, ParamSpec] = TABLE.by_name

MATCHER_PARAMETERS = ('min_depth_mm', 'max_depth_mm', 'min_disparity', 'num_disparities',
                      'block_size', 'p1', 'p2', 'uniqueness_ratio', 'speckle_window_size',
                      'speckle_range', 'disp12_max_diff', 'pre_filter_cap', 'sgbm_mode',
                      'post_filter', 'subpixel', 'sgbm_resolution', 'min_confidence')
"""Parameters that make up matcher.MatcherSettings."""


def default_values() -> dict[str, Any]:
    """Return every parameter's default value by name."""
    return TABLE.defaults()


def depth_settings_problems(values: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with these parameter values, alone or together (empty = usable)."""
    return TABLE.problems(values)


def window_problem(values: Mapping[str, Any], focal_px: float, baseline_mm: float,
                   width_px: int, height_px: int) -> str | None:
    """
    Return why these settings cannot match images of this working size, naming the fix.

    The search window comes from min_disparity/num_disparities when given, else from the depth
    range with this focal length and baseline; SGBM needs the window plus a block inside a row.
    """
    v = default_values()
    v.update(values)
    block = int(v['block_size'])
    widest_px = width_px - min_width_px(0, block)  # the largest disparity a row can match
    size = f'{width_px}x{height_px} px at the working scale'
    if widest_px < 1 or height_px < block:
        return (f'the images are {size}: too small to match with block_size {block} (at least '
                f'{block + 2}x{block} px); send larger images or raise scale')
    if v['min_disparity'] >= 0 and v['num_disparities']:
        low, count = int(v['min_disparity']), int(v['num_disparities'])
        if min_width_px(low + count - 1, block) <= width_px:
            return None
        return (f'min_disparity {low} + num_disparities {count} searches up to '
                f'{low + count - 1} px, but the images are {size} and allow at most {widest_px}: '
                'lower min_disparity or num_disparities, or set min_disparity -1 and '
                'num_disparities 0 for the window of the depth range')
    low, count = search_window(focal_px, baseline_mm, float(v['min_depth_mm']),
                               float(v['max_depth_mm']))
    if min_width_px(low + count - 1, block) <= width_px:
        return None
    nearest_mm = disparity_px(focal_px, baseline_mm, max(widest_px - 16, 1))
    fix = (f'raise min_depth_mm to {nearest_mm:.0f} or more'
           if nearest_mm < float(v['max_depth_mm']) else 'no depth range fits')
    return (f'the depth range {v["min_depth_mm"]:g}-{v["max_depth_mm"]:g} mm with f = '
            f'{focal_px:.1f} px and baseline {baseline_mm:.6g} mm needs disparities {low}..'
            f'{low + count - 1} px, but the images are {size} and allow at most {widest_px}: '
            f'{fix}, check the calibration (focal length, baseline), or send larger images')


def matcher_settings(values: Mapping[str, Any]) -> MatcherSettings:
    """Return the MatcherSettings of values that passed the table (missing ones: defaults)."""
    v = default_values()
    v.update(values)
    return MatcherSettings(
        min_depth_mm=float(v['min_depth_mm']),
        max_depth_mm=float(v['max_depth_mm']),
        min_disparity=None if v['min_disparity'] < 0 else int(v['min_disparity']),
        num_disparities=None if v['num_disparities'] == 0 else int(v['num_disparities']),
        block_size=int(v['block_size']),
        subpixel=str(v['subpixel']),
        p1=int(v['p1']),
        p2=int(v['p2']),
        uniqueness_ratio=int(v['uniqueness_ratio']),
        speckle_window_size=int(v['speckle_window_size']),
        speckle_range=int(v['speckle_range']),
        disp12_max_diff=int(v['disp12_max_diff']),
        pre_filter_cap=int(v['pre_filter_cap']),
        mode=str(v['sgbm_mode']),
        post_filter=str(v['post_filter']),
        sgbm_resolution=str(v['sgbm_resolution']),
        min_confidence=float(v['min_confidence']),
    )


def parameter_table_markdown() -> str:
    """Return the parameters as a Markdown table (for the README)."""
    return TABLE.markdown()
