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

"""`raiv-stereo range` (depth vs disparity, SGBM window) and `raiv-stereo depth` on files."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
import sys
import time

import cv2
import numpy as np
from raiv_stereo.core import pair_order, rig
from raiv_stereo.core.calibration import (
    CalibrationError,
    focal_px_from_lens,
    raiv_nominal,
    rectified_pinhole,
    scaled_size,
    StereoCalibration,
)
from raiv_stereo.core.calibration_io import load_calibration, save_camera_info_yaml
from raiv_stereo.core.depth import (
    colorize_depth,
    depth_legend,
    depth_m_to_mm_u16,
    MAX_DEPTH_MM_U16,
)
from raiv_stereo.core.matching.sgbm import (
    disparity_px,
    MatcherSettings,
    min_width_px,
    search_window,
    StereoMatcher,
)
from raiv_stereo.core.pipeline import StereoPipeline, to_gray
from raiv_stereo.params import camera as camera_params, depth as depth_params
from raiv_stereo.params.launch import lens_depth_range_mm
from raiv_stereo.tools import bag_depth
from raiv_stereo.tools.cli import CommandError, HelpFormatter, output_folder

NODE = depth_params.default_values()
"""The depth node's defaults: the command's own where it has the same setting."""
TABLE_DEPTHS_MM = (200, 300, 400, 500, 750, 1000, 2000, 3000, 4000, 5000)
"""The depths of the maker's published depth-vs-disparity table."""


IDENTICAL_MEAN_DIFFERENCE = 1.0
"""Grey levels: left and right closer than this on average are one image given twice."""
ZERO_DISPARITY_SHARE = 0.8
"""Above this share of pixels matching at zero disparity, the two images are one view twice."""
OFF_RANGE_SHARE = 0.5
"""Above this share of the scene outside the search window, `depth` warns and names a range."""
RANGE_MARGIN = 1.2
"""The suggested range reaches this factor (and 1 px) beyond the scene's disparities."""
EDGE_PX = 1.0
"""Disparities within this of the window count as inside it."""


class OfflineError(CommandError):
    """A problem with the command's inputs, reported as one line."""


LENS = ('baseline_mm', 'focal_length_mm', 'pixel_size_um')
"""The camera settings of the nominal calibration, as options (camera_params specs)."""
LENS_DEFAULTS = {name: camera_params.BY_NAME[name].default for name in LENS}
"""The camera node's (the RAiV's) lens defaults."""
DEPTH_RANGE = ('min_depth_mm', 'max_depth_mm')
WINDOW = ('min_disparity', 'num_disparities')
MATCHING = (*WINDOW, 'block_size', 'sgbm_mode', 'post_filter',
            'subpixel', 'mask_out_of_range')
"""The depth node's matcher settings `depth` takes as options (depth_params specs)."""


def _add_geometry(parser: argparse.ArgumentParser) -> None:
    # No defaults here: an option the user gave can then contradict --calibration/--rectified
    # (fill_lens_defaults sets the RAiV's afterwards).
    camera_params.TABLE.add_options(parser, LENS, defaults=dict.fromkeys(LENS))
    parser.add_argument('--scale', type=float, default=None,
                        help=f'working resolution relative to the input (default '
                             f'{NODE["scale"]:g}; 1 with --rectified, so outputs line up with '
                             f'the input pixels; {depth_params.BY_NAME["scale"].limits_text()})')
    add_depth_range(parser)


def add_depth_range(parser: argparse.ArgumentParser) -> None:
    """Add --min-depth-mm and --max-depth-mm (range, depth and demo); unset = the lens preset's."""
    preset = "or the lens preset's for another --focal-length-mm: config/lens_*.yaml"
    depth_params.TABLE.add_options(
        parser, DEPTH_RANGE, defaults=dict.fromkeys(DEPTH_RANGE),
        notes={'min_depth_mm': f'(default: {NODE["min_depth_mm"]:g}, {preset})',
               'max_depth_mm': f'(default: {NODE["max_depth_mm"]:g}, {preset})'})


def fill_lens_defaults(args: argparse.Namespace) -> None:
    """Set the unset lens options to the RAiV's and an unset depth range to the lens preset's."""
    for name, value in LENS_DEFAULTS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if args.min_depth_mm is None or args.max_depth_mm is None:
        # The preset (config/lens_<f>mm.yaml) is for scale 0.5; the 2.8 mm lens: 300-3000 mm.
        near_mm, far_mm = (NODE['min_depth_mm'], NODE['max_depth_mm'])
        if args.focal_length_mm > 0 and args.pixel_size_um > 0 and args.baseline_mm > 0:
            near_mm, far_mm = lens_depth_range_mm(args.focal_length_mm, rig.WORKING_SCALE,
                                                  args.baseline_mm, args.pixel_size_um)
        args.min_depth_mm = near_mm if args.min_depth_mm is None else args.min_depth_mm
        args.max_depth_mm = far_mm if args.max_depth_mm is None else args.max_depth_mm


def window_problem(focal_length_mm: float, baseline_mm: float, pixel_size_um: float,
                   scale: float, min_depth_mm: float, max_depth_mm: float) -> str | None:
    """Return why the range's search window cannot fit the RAiV image at `scale`, else None."""
    focal_px = focal_px_from_lens(focal_length_mm, pixel_size_um) * scale
    width, _ = scaled_size(rig.SENSOR_SIZE_PX, scale)
    min_d, num_d = search_window(focal_px, baseline_mm, min_depth_mm, max_depth_mm)
    need_px = min_width_px(min_d + num_d - 1, NODE['block_size'])
    if need_px <= width:
        return None
    near_mm, far_mm = lens_depth_range_mm(focal_length_mm, scale, baseline_mm, pixel_size_um)
    preset = (f' (config/lens_{focal_length_mm:g}mm.yaml at scale 0.5)'
              if focal_length_mm in rig.LENSES_MM and scale == rig.WORKING_SCALE else '')
    return (f'the {min_depth_mm:g}-{max_depth_mm:g} mm range searches disparities '
            f'{min_d}..{min_d + num_d - 1} px, wider than the {width} px image at scale {scale:g} '
            f'(matching needs {need_px} px): with the {focal_length_mm:g} mm lens use '
            f'--min-depth-mm {near_mm:g} --max-depth-mm {far_mm:g}{preset}')


def range_report(focal_length_mm: float, baseline_mm: float, pixel_size_um: float, scale: float,
                 min_depth_mm: float, max_depth_mm: float) -> str:
    """Return the depth-vs-disparity table at `scale` and the SGBM window of the depth range."""
    focal_px = focal_px_from_lens(focal_length_mm, pixel_size_um) * scale
    width, height = scaled_size(rig.SENSOR_SIZE_PX, scale)
    lines = [f'{focal_length_mm:g} mm lens, {baseline_mm:g} mm baseline, {pixel_size_um:g} um '
             f'pixels, scale {scale:g} ({width}x{height}): f = {focal_px:.2f} px',
             '', '| depth (mm) | disparity (px) |', '|---|---|']
    lines += [f'| {z} | {disparity_px(focal_px, baseline_mm, z):.2f} |' for z in TABLE_DEPTHS_MM]
    min_d, num_d = search_window(focal_px, baseline_mm, min_depth_mm, max_depth_mm)
    max_d = min_d + num_d - 1
    near_mm = focal_px * baseline_mm / max_d
    far_mm = focal_px * baseline_mm / min_d if min_d > 0 else float('inf')
    lines += ['', f'depth range {min_depth_mm:g}-{max_depth_mm:g} mm -> disparities '
              f'{disparity_px(focal_px, baseline_mm, max_depth_mm):.2f}-'
              f'{disparity_px(focal_px, baseline_mm, min_depth_mm):.2f} px',
              f'SGBM window: minDisparity {min_d}, numDisparities {num_d} '
              f'(searches {min_d}..{max_d} px = {near_mm:.0f}-{far_mm:.0f} mm)',
              f'depth resolution at {max_depth_mm:g} mm: '
              f'{max_depth_mm ** 2 / (focal_px * baseline_mm) / 16:.1f} mm per 1/16 px']
    problem = window_problem(focal_length_mm, baseline_mm, pixel_size_um, scale, min_depth_mm,
                             max_depth_mm)
    if problem:
        lines += ['', f'WARNING: {problem}; this window finds no depth']
    return '\n'.join(lines)


def geometry_problems(args: argparse.Namespace) -> list[str]:
    """Return what is wrong with the lens, scale and depth options, in the nodes' words."""
    return camera_params.TABLE.option_problems(args, LENS) + \
        depth_params.TABLE.option_problems(args, ('scale', *DEPTH_RANGE, *MATCHING))


def _run_range(args: argparse.Namespace) -> int:
    args.scale = NODE['scale'] if args.scale is None else args.scale
    fill_lens_defaults(args)
    problems = geometry_problems(args)
    if problems:
        print(f'raiv-stereo range: error: {"; ".join(problems)}', file=sys.stderr)
        return 1
    print(range_report(args.focal_length_mm, args.baseline_mm, args.pixel_size_um, args.scale,
                       args.min_depth_mm, args.max_depth_mm))
    return 0


def _read_image(path: str, notes: list[str]) -> np.ndarray:
    """Read an image as 8-bit grey or BGR; a 16-bit file is scaled down (said in `notes`)."""
    if not Path(path).is_file():
        raise OfflineError(f'no image file {path!r}')
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OfflineError(f'cannot read image {path!r} (not an image OpenCV reads)')
    if image.dtype == np.uint16:
        notes.append(f'{path} is 16-bit: matched as 8-bit (value / 256)')
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise OfflineError(f'{path} has {image.dtype} pixels; give 8- or 16-bit images')
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def matching_pair(left: np.ndarray, right: np.ndarray, left_name: str, right_name: str,
                  notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the pair with one channel count (grey + colour: both grey, said in `notes`)."""
    if _channels(left) != _channels(right):
        notes.append(f'{left_name} has {_channels(left)} channel(s), {right_name} '
                     f'{_channels(right)}: both matched as grey')
        left, right = to_gray(left), to_gray(right)
    if left.shape[:2] != right.shape[:2]:
        raise OfflineError(f'left is {left.shape[1]}x{left.shape[0]}, right is '
                           f'{right.shape[1]}x{right.shape[0]}: a stereo pair must match')
    return left, right


def contradictions(args: argparse.Namespace) -> list[str]:
    """Return the given options that contradict each other (the README's one-line error)."""
    problems = []
    given = [f'--{name.replace("_", "-")}' for name in ('focal_length_mm', 'pixel_size_um')
             if getattr(args, name) is not None]
    if args.rectified and args.calibration:
        problems.append('--rectified and --calibration contradict each other: rectified inputs '
                        'need --focal-px (and --baseline-mm), raw inputs a calibration; give one')
    elif args.calibration and (given or args.baseline_mm is not None):
        lens = given + (['--baseline-mm'] if args.baseline_mm is not None else [])
        problems.append(f'{" and ".join(lens)} cannot be used with --calibration: the '
                        'calibration file sets the focal length and baseline')
    elif args.rectified and given:
        problems.append(f'{" and ".join(given)} cannot be used with --rectified: --focal-px '
                        'gives the rectified focal length')
    if args.focal_px is not None and not args.rectified:
        problems.append('--focal-px describes already rectified inputs: add --rectified, or '
                        'drop --focal-px (--calibration or the lens options set the focal '
                        'length of raw inputs)')
    window = [f'--{name.replace("_", "-")}' for name in ('min_disparity', 'num_disparities')
              if getattr(args, name) is not None]
    depths = [f'--{name.replace("_", "-")}' for name in ('min_depth_mm', 'max_depth_mm')
              if getattr(args, name) is not None]
    if len(window) == 2 and depths:  # one of them alone: the range sets the other
        problems.append(f'{" and ".join(depths)} and {" and ".join(window)} contradict each '
                        'other: the depth range sets the search window; give one or the other')
    return problems


def check_pair(pipeline: StereoPipeline, left: np.ndarray, right: np.ndarray,
               names: tuple[str, str]) -> str | None:
    """
    Refuse one image given twice or a swapped pair; return a warning when the scene is off-range.

    Swapped: the depth node's check (pair_order.py, one pair standing for its first few), then,
    as that needs the true disparities inside the window, a search over -N..N px: a swapped pair
    has its disparities negative. The same search shows where the scene lies: beyond the window's
    far or near end, disparities clip to that end or match wrongly, so the range is named.
    """
    difference = float(cv2.absdiff(to_gray(left), to_gray(right)).mean())
    if difference < IDENTICAL_MEAN_DIFFERENCE:
        raise OfflineError(f'{names[0]} and {names[1]} are the same image (they differ by '
                           f'{difference:.2f} grey levels on average): a stereo pair needs one '
                           'image from each camera')
    swap_hint = f"give the left camera's image first ({names[1]} {names[0]})"
    check = pair_order.PairOrderCheck()
    confidence = pipeline.match_both_ways(left, right)
    for _ in range(pair_order.PAIRS_TO_CHECK):
        check.add(*confidence)
    if check.verdict == 'swapped':
        raise OfflineError(f'left and right look swapped ({check.figures()}): {swap_hint}')
    working, matcher = pipeline.working, pipeline.matcher
    width_px = working.image_size[0]
    block = pipeline.settings.block_size
    reach = min(2 * max(matcher.max_disparity, 16), width_px - block - 2) // 16 * 16
    if reach < 16:
        return None
    probe = StereoMatcher(MatcherSettings(min_disparity=-reach, num_disparities=2 * reach,
                                          block_size=block, subpixel='sgbm',
                                          uniqueness_ratio=pair_order.UNIQUENESS_RATIO),
                          working.focal_px, working.baseline_mm)
    found = probe.compute(*pipeline.rectifier.rectify(to_gray(left), to_gray(right)))
    found = found[np.isfinite(found)]
    positive, negative = float(np.mean(found > 0.5)), float(np.mean(found < -0.5))
    enough = found.size >= pair_order.MIN_MATCHED_SHARE * width_px * working.image_size[1]
    # A window the user opened to negative disparities says they are expected there.
    if enough and matcher.min_disparity >= 0 and negative > pair_order.SWAPPED_RATIO * positive:
        raise OfflineError(f'left and right look swapped ({negative * 100:.0f} % of the matched '
                           f'pixels have negative disparities, {positive * 100:.0f} % positive, '
                           f'searching -{reach}..{reach} px): {swap_hint}')
    zero = 1.0 - positive - negative
    if enough and zero > ZERO_DISPARITY_SHARE:
        return (f'{zero * 100:.0f} % of the matched pixels have no disparity (|d| <= 0.5 px): '
                f'are {names[0]} and {names[1]} copies of one image? (or is the whole scene '
                'very far?)')
    return range_warning(pipeline, found[found > 0.5])


def range_warning(pipeline: StereoPipeline, scene_px: np.ndarray) -> str | None:
    """Return a warning naming a depth range when most of `scene_px` lies outside the window."""
    matcher = pipeline.matcher
    low, high = matcher.min_disparity, matcher.max_disparity
    if scene_px.size == 0:
        return None
    beyond = {'farther': float(np.mean(scene_px < low - EDGE_PX)),
              'nearer': float(np.mean(scene_px > high + EDGE_PX))}
    side = max(beyond, key=beyond.get)
    if beyond[side] <= OFF_RANGE_SHARE:
        return None
    working = pipeline.working
    f_b = working.focal_px * working.baseline_mm
    # 5th..95th percentile with a margin (a flat scene at one depth still gets a range).
    near_px = float(np.percentile(scene_px, 95)) * RANGE_MARGIN + 1.0
    far_px = max(float(np.percentile(scene_px, 5)) / RANGE_MARGIN - 1.0, 0.5)
    near_mm = math.floor(f_b / near_px / 10.0) * 10
    far_mm = math.ceil(f_b / far_px / 10.0) * 10
    return (f'{beyond[side] * 100:.0f} % of the scene is {side} than the depth range '
            f'{f_b / max(high, 1):.0f}-' + (f'{f_b / low:.0f}' if low > 0 else 'inf') +
            f' mm (disparities {low}..{high} px), so its depth is missing or wrong there: most '
            f'of it matches at {float(np.percentile(scene_px, 5)):.1f}..'
            f'{float(np.percentile(scene_px, 95)):.1f} px: try --min-depth-mm {near_mm} '
            f'--max-depth-mm {far_mm}')


def calibration_for(args: argparse.Namespace, size: tuple[int, int]) -> StereoCalibration:
    """Return the calibration the options describe, for raw images of `size` (w, h)."""
    if args.rectified:
        if args.focal_px is None:
            raise OfflineError('--rectified needs --focal-px (and --baseline-mm)')
        if not args.focal_px > 0:
            raise OfflineError(f'--focal-px must be positive, got {args.focal_px:g}')
        return rectified_pinhole(args.focal_px, args.baseline_mm / 1000.0, *size)
    if args.calibration:
        calibration = load_calibration(args.calibration)
        if calibration.image_size != size:
            raise OfflineError(f'the calibration is for {calibration.image_size[0]}x'
                               f'{calibration.image_size[1]} images, the inputs are '
                               f'{size[0]}x{size[1]}')
        return calibration
    nominal = raiv_nominal(args.baseline_mm, args.focal_length_mm, args.pixel_size_um)
    sensor_w, sensor_h = nominal.image_size
    if abs(size[0] / size[1] - sensor_w / sensor_h) > 0.01:
        raise OfflineError(f"{size[0]}x{size[1]} images do not have the RAiV sensor's "
                           f'{sensor_w}x{sensor_h} aspect ratio; give --calibration or '
                           '--rectified --focal-px')
    return nominal.with_size(*size)


def searched_depth_range_m(pipeline: StereoPipeline) -> tuple[float, float]:
    """Return the depths (m) the search window covers: the colour range of depth_color.png."""
    f_b = pipeline.working.focal_px * pipeline.working.baseline_m
    matcher = pipeline.matcher
    near_m = f_b / max(matcher.max_disparity, 1)
    far_m = f_b / matcher.min_disparity if matcher.min_disparity > 0 else 100.0 * near_m
    return near_m, far_m


def _write_outputs(out: Path, result, pipeline: StereoPipeline) -> list[Path]:
    near_m, far_m = searched_depth_range_m(pipeline)
    height, width = result.depth_m.shape
    border_px = pipeline.matcher.valid_window(width, height)[0]
    colour = colorize_depth(result.depth_m, near_m, far_m, border_px)
    files = {'depth_mm.png': depth_m_to_mm_u16(result.depth_m),
             'disparity.pfm': result.disparity_px,
             'depth_color.png': np.hstack([colour, depth_legend(colour.shape[0], near_m, far_m,
                                                                left_border=border_px > 0)])}
    written = []
    for name, image in files.items():
        if not cv2.imwrite(str(out / name), image):
            raise OfflineError(f'cannot write {out / name}')
        written.append(out / name)
    save_camera_info_yaml(out / 'camera_info.yaml', pipeline.working.left, 'rectified_left')
    return written + [out / 'camera_info.yaml']


def matcher_settings_from_options(args: argparse.Namespace) -> MatcherSettings:
    """Return the matcher settings `depth` was given; contradictions and bad values raise."""
    problems = contradictions(args)
    if problems:
        raise OfflineError('; '.join(problems))
    if args.rectified or args.calibration or args.bag:  # the lens preset is for the nominal rig
        args.min_depth_mm = NODE['min_depth_mm'] if args.min_depth_mm is None \
            else args.min_depth_mm
        args.max_depth_mm = NODE['max_depth_mm'] if args.max_depth_mm is None \
            else args.max_depth_mm
    fill_lens_defaults(args)
    for name in WINDOW:  # unset (None, for contradictions) = the spec's "from the range"
        if getattr(args, name) is None:
            setattr(args, name, depth_params.TABLE.by_name[name].default)
    problems = geometry_problems(args)
    if problems:
        raise OfflineError('; '.join(problems))
    return depth_params.matcher_settings(
        depth_params.TABLE.option_values(args, (*DEPTH_RANGE, *MATCHING)))


def _run_depth(args: argparse.Namespace) -> int:
    if args.bag is not None or args.left is None or args.right is None:
        return bag_depth.run(args)
    notes: list[str] = []
    if args.scale is None:
        args.scale = 1.0 if args.rectified else NODE['scale']
    try:
        settings = matcher_settings_from_options(args)
        out = output_folder(args.out)
        left, right = _read_image(args.left, notes), _read_image(args.right, notes)
        left, right = matching_pair(left, right, args.left, args.right, notes)
        calibration = calibration_for(args, (left.shape[1], left.shape[0]))
        started = time.perf_counter()
        pipeline = StereoPipeline(calibration, args.scale, settings)
        setup_ms = (time.perf_counter() - started) * 1e3
        problem = pipeline.matcher.size_problem(*pipeline.working.image_size)
        if problem:
            raise OfflineError(problem)
        edge = check_pair(pipeline, left, right, (args.left, args.right))
        result = pipeline.process(left, right, mask_out_of_range=args.mask_out_of_range)
        written = _write_outputs(out, result, pipeline)
    except (OfflineError, CalibrationError, ValueError, OSError) as error:
        print(f'raiv-stereo depth: error: {error}', file=sys.stderr)
        return 1
    width, height = pipeline.working.image_size
    timings = ', '.join(f'{name} {ms:.1f}' for name, ms in result.timings_ms.items())
    print(f'{calibration.description}; {left.shape[1]}x{left.shape[0]} -> {width}x{height}, '
          f'disparities {pipeline.matcher.min_disparity}..{pipeline.matcher.max_disparity} px')
    print(f'time (ms): maps {setup_ms:.1f} (once), {timings}')
    print(f'valid depth: {100 * result.valid_share():.1f} % of pixels')
    too_far = int(np.count_nonzero(np.rint(result.depth_m * 1000.0) > MAX_DEPTH_MM_U16))
    if too_far:  # depth_m_to_mm_u16's rule: what does not fit is written as 0
        notes.append(f'{too_far} pixels deeper than {MAX_DEPTH_MM_U16 / 1000:g} m are 0 in '
                     'depth_mm.png (16-bit millimetres); disparity.pfm has them')
    for note in notes:
        print(f'note: {note}')
    if edge:
        print(f'WARNING: {edge}')
    for path in written:
        print(f'wrote {path}')
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `range` and `depth` subcommands."""
    range_parser = subparsers.add_parser(
        'range', formatter_class=HelpFormatter,
        help="print the maker's depth-vs-disparity table and a range's SGBM window")
    _add_geometry(range_parser)
    range_parser.set_defaults(func=_run_range)

    depth_parser = subparsers.add_parser(
        'depth', formatter_class=HelpFormatter,
        help='compute depth for one stereo pair of image files')
    depth_parser.add_argument('left', nargs='?', help='left image file')
    depth_parser.add_argument('right', nargs='?', help='right image file')
    depth_parser.add_argument('--out', required=True,
                              help='output folder (with --bag: the new rosbag2 folder)')
    depth_parser.add_argument('--calibration', nargs='+', metavar='FILE',
                              help='LEFT.yaml RIGHT.yaml (camera_info pair) or one OpenCV '
                                   'stereo file (YAML/XML/JSON)')
    depth_parser.add_argument('--rectified', action='store_true',
                              help='the inputs are already rectified (give --focal-px)')
    depth_parser.add_argument('--focal-px', type=float,
                              help='focal length of rectified inputs, px (with --rectified)')
    _add_geometry(depth_parser)
    depth_params.TABLE.add_options(depth_parser, MATCHING, {'sgbm_mode': '--mode'},
                                   defaults=dict.fromkeys(WINDOW))
    bag_depth.add_arguments(depth_parser)
    depth_parser.set_defaults(func=_run_depth)
