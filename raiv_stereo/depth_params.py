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

No ROS import, so the table, its cross-parameter validation and the README table are unit-tested
and shared by the node, the docs and anything else that needs them.
"""

from __future__ import annotations

from typing import Any, Mapping

from raiv_stereo import defaults, param_table
from raiv_stereo.param_table import FloatRange, IntRange, markdown_table, ParamSpec, value_problem

__all__ = ['FloatRange', 'IntRange', 'ParamSpec', 'PARAMETERS', 'depth_settings_problems',
           'matcher_settings', 'parameter_table_markdown']

SGBM_MAX_BLOCK_SIZE = 31
"""Largest SGBM block size the node accepts (OpenCV needs odd sizes; beyond 31 is only blur)."""
MAX_NUM_DISPARITIES = 1024
"""Largest explicit search width; OpenCV needs a positive multiple of 16."""


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec('input_rectified', defaults.INPUT_RECTIFIED,
              'subscribe to left/image_rect and right/image_rect (already rectified) instead of '
              'image_raw', read_only=True),
    ParamSpec('input_transport', defaults.INPUT_TRANSPORT,
              "'raw' images, or 'compressed': subscribe to <image topic>/compressed "
              "(sensor_msgs/CompressedImage, JPEG or PNG, as image_transport's compressed "
              'plugin publishes)', choices=defaults.INPUT_TRANSPORTS, read_only=True),
    ParamSpec('sync', defaults.SYNC,
              "pairing of left/right images and camera_infos: 'exact' stamps (one trigger) or "
              "'approximate' within sync_slop_s (free-running cameras)",
              choices=defaults.SYNC_MODES, read_only=True),
    ParamSpec('sync_slop_s', defaults.SYNC_SLOP_S,
              'largest left/right stamp difference paired by approximate sync, s',
              FloatRange(0.0001, 1.0), read_only=True),
    ParamSpec('queue_size', defaults.QUEUE_SIZE,
              'message_filters queue length per topic', IntRange(1, 100), read_only=True),
    ParamSpec('scale', defaults.SCALE,
              "working resolution relative to the input images (0.5 = the maker's 800x650 "
              'from 1600x1300)', FloatRange(defaults.MIN_SCALE, defaults.MAX_SCALE)),
    ParamSpec('min_depth_mm', defaults.MIN_DEPTH_MM,
              'nearest depth to measure, mm: sets the largest disparity searched',
              FloatRange(10.0, 1.0e6)),
    ParamSpec('max_depth_mm', defaults.MAX_DEPTH_MM,
              'farthest depth to measure, mm: sets the smallest disparity searched',
              FloatRange(10.0, 1.0e6)),
    ParamSpec('min_disparity', defaults.MIN_DISPARITY,
              'smallest disparity searched, px at working scale; -1 = from max_depth_mm',
              IntRange(-1, MAX_NUM_DISPARITIES)),
    ParamSpec('num_disparities', defaults.NUM_DISPARITIES,
              'number of disparities searched (multiple of 16); 0 = from the depth range',
              IntRange(0, MAX_NUM_DISPARITIES, 16)),
    ParamSpec('block_size', defaults.BLOCK_SIZE,
              'SGBM matching block size, px (odd)', IntRange(1, SGBM_MAX_BLOCK_SIZE, 2)),
    ParamSpec('p1', defaults.P1,
              'SGBM smoothness penalty for disparity changes of 1; 0 = '
              f'{defaults.P1_PER_BLOCK_PX} * block_size^2 (chosen across the stereo_data '
              'scenes, grey matching)', IntRange(0, 100000)),
    ParamSpec('p2', defaults.P2,
              'SGBM smoothness penalty for larger disparity changes (> p1); 0 = '
              f'{defaults.P2_PER_BLOCK_PX} * block_size^2', IntRange(0, 400000)),
    ParamSpec('uniqueness_ratio', defaults.UNIQUENESS_RATIO,
              'margin, percent, by which the best match must beat the second best',
              IntRange(0, 100)),
    ParamSpec('speckle_window_size', defaults.SPECKLE_WINDOW_SIZE,
              'largest speckle region removed, px; 0 = no speckle filter', IntRange(0, 10000)),
    ParamSpec('speckle_range', defaults.SPECKLE_RANGE,
              'largest disparity variation inside one connected region, px', IntRange(0, 64)),
    ParamSpec('disp12_max_diff', defaults.DISP12_MAX_DIFF,
              'largest left-right consistency difference, px; -1 = no check',
              IntRange(-1, MAX_NUM_DISPARITIES)),
    ParamSpec('pre_filter_cap', defaults.PRE_FILTER_CAP,
              'clip of the x-derivative pre-filter', IntRange(1, 63)),
    ParamSpec('sgbm_mode', defaults.SGBM_MODE,
              "SGBM variant: 'sgbm' (5 directions), 'sgbm_3way' (fastest), 'hh' (8 directions, "
              "full), 'hh4'", choices=defaults.SGBM_MODES),
    ParamSpec('post_filter', defaults.POST_FILTER,
              "disparity post-filter: 'none' or 'wls' (edge-aware, needs opencv-contrib)",
              choices=defaults.POST_FILTERS),
    ParamSpec('subpixel', defaults.SUBPIXEL,
              "sub-pixel disparity: 'refine' = Lucas-Kanade steps on the rectified pair, "
              'normalised to zero local mean and unit contrast, that remove the pull toward '
              "whole pixels (doc/benchmarks.md, evaluation family); 'sgbm' = SGBM's own "
              'parabola fit (less time, locked toward whole pixels)',
              choices=defaults.SUBPIXELS),
    ParamSpec('sgbm_resolution', defaults.SGBM_RESOLUTION,
              "where SGBM runs: 'full' working resolution; 'half_rows' = rows averaged in "
              "pairs (every disparity, half the vertical detail, about 0.5x the time); 'half' "
              '= half width and height, its disparities refined there, doubled and refined '
              'again at full resolution (about 0.3x the time, blurrier edges, fewer depths '
              'within 1 %)',
              choices=defaults.SGBM_RESOLUTIONS),
    ParamSpec('min_confidence', defaults.MIN_CONFIDENCE,
              'depth and disparity only where depth/confidence is at least this: 1 = matched '
              'over the whole search window, 0.5 = also the left border (part of the window '
              'beyond the image edge), 0.25 = also holes filled from the farther neighbour '
              'on the row (occlusions, rejected matches)', FloatRange(0.0, 1.0)),
    ParamSpec('depth_format', defaults.DEPTH_FORMAT,
              'depth/image_rect encoding (REP 118): 32FC1 metres, NaN = no depth; 16UC1 '
              'millimetres, 0 = no depth', choices=defaults.DEPTH_FORMATS),
    ParamSpec('mask_out_of_range', defaults.MASK_OUT_OF_RANGE,
              'mark depths outside min_depth_mm..max_depth_mm as no depth'),
    ParamSpec('point_cloud_rgb', defaults.POINT_CLOUD_RGB,
              'add the rectified left colour to the points (XYZRGB instead of XYZ)'),
    ParamSpec('point_cloud_keep_nan', defaults.POINT_CLOUD_KEEP_NAN,
              'keep pixels without depth as NaN points (organized cloud) instead of dropping '
              'them'),
    ParamSpec('diagnostics_period_s', defaults.DIAGNOSTICS_PERIOD_S,
              'period of /diagnostics and the statistics log line, s', FloatRange(0.1, 3600.0),
              read_only=True),
)

BY_NAME: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}

MATCHER_PARAMETERS = ('min_depth_mm', 'max_depth_mm', 'min_disparity', 'num_disparities',
                      'block_size', 'p1', 'p2', 'uniqueness_ratio', 'speckle_window_size',
                      'speckle_range', 'disp12_max_diff', 'pre_filter_cap', 'sgbm_mode',
                      'post_filter', 'subpixel', 'sgbm_resolution', 'min_confidence')
"""Parameters that make up matcher.MatcherSettings."""


def default_values() -> dict[str, Any]:
    """Return every parameter's default value by name."""
    return param_table.default_values(PARAMETERS)


def depth_settings_problems(values: Mapping[str, Any]) -> list[str]:
    """
    Return what is wrong with these parameter values, alone or together (empty = usable).

    `values` maps names to values; missing names take their defaults. Checks each value's type
    and range, then the combinations OpenCV and the depth range need.
    """
    merged = default_values()
    merged.update(values)
    problems = [f'unknown parameter {name!r}' for name in values if name not in BY_NAME]
    problems += [p for p in (value_problem(s, merged[s.name]) for s in PARAMETERS) if p]
    if problems:
        return problems
    v = merged
    if v['min_depth_mm'] >= v['max_depth_mm']:
        problems.append(f'min_depth_mm ({v["min_depth_mm"]:g}) must be below max_depth_mm '
                        f'({v["max_depth_mm"]:g})')
    if v['block_size'] % 2 == 0:
        problems.append(f'block_size ({v["block_size"]}) must be odd (OpenCV)')
    if v['num_disparities'] % 16:
        problems.append(f'num_disparities ({v["num_disparities"]}) must be a multiple of 16 '
                        '(OpenCV), or 0 for the depth range')
    if v['p1'] and v['p2'] and v['p1'] >= v['p2']:
        problems.append(f'p1 ({v["p1"]}) must be below p2 ({v["p2"]}) (OpenCV SGBM)')
    if v['min_disparity'] >= 0 and v['num_disparities'] and \
            v['min_disparity'] + v['num_disparities'] > MAX_NUM_DISPARITIES + 16:
        problems.append(f'search window min_disparity + num_disparities '
                        f'({v["min_disparity"] + v["num_disparities"]}) is beyond '
                        f'{MAX_NUM_DISPARITIES + 16} px')
    if not problems:
        problems.extend(_core_problems(v))
    return problems


def _core_problems(values: Mapping[str, Any]) -> list[str]:
    """Return the matcher core's own objections to these settings (none if it has no checker)."""
    try:
        from raiv_stereo import matcher
    except ImportError:
        return []
    check = getattr(matcher, 'settings_problems', None)
    return list(check(matcher_settings(values))) if check else []


def matcher_settings(values: Mapping[str, Any]):
    """Return matcher.MatcherSettings for these parameter values (missing ones take defaults)."""
    from raiv_stereo import matcher

    v = default_values()
    v.update(values)
    return matcher.MatcherSettings(
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
    return markdown_table(PARAMETERS)
