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
from pathlib import Path
import sys
import time

import cv2
import numpy as np
from raiv_stereo import defaults
from raiv_stereo.calibration import (
    CalibrationError,
    focal_px_from_lens,
    load_calibration,
    raiv_nominal,
    rectified_pinhole,
    save_camera_info_yaml,
    scaled_size,
    StereoCalibration,
)
from raiv_stereo.cli import HelpFormatter
from raiv_stereo.depth import colorize_depth, depth_legend, depth_m_to_mm_u16, MAX_DEPTH_MM_U16
from raiv_stereo.matcher import disparity_px, MatcherSettings, search_window, settings_problems
from raiv_stereo.pipeline import StereoPipeline

TABLE_DEPTHS_MM = (200, 300, 400, 500, 750, 1000, 2000, 3000, 4000, 5000)
"""The depths of the maker's published depth-vs-disparity table."""


class OfflineError(Exception):
    """A problem with the command's inputs, reported as one line."""


def _add_geometry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--baseline-mm', type=float, default=defaults.BASELINE_MM,
                        help='stereo baseline in mm')
    parser.add_argument('--focal-length-mm', type=float, default=defaults.FOCAL_LENGTH_MM,
                        help='lens focal length in mm')
    parser.add_argument('--pixel-size-um', type=float, default=defaults.PIXEL_SIZE_UM,
                        help='pixel pitch in micrometres')
    parser.add_argument('--scale', type=float, default=None,
                        help=f'working resolution relative to the input (default '
                             f'{defaults.SCALE:g}; 1 with --rectified, so outputs line up with '
                             'the input pixels)')
    add_depth_range(parser)


def add_depth_range(parser: argparse.ArgumentParser) -> None:
    """Add --min-depth-mm and --max-depth-mm (range, depth and demo)."""
    parser.add_argument('--min-depth-mm', type=float, default=defaults.MIN_DEPTH_MM,
                        help='nearest depth searched, mm')
    parser.add_argument('--max-depth-mm', type=float, default=defaults.MAX_DEPTH_MM,
                        help='farthest depth searched, mm')


def range_report(focal_length_mm: float, baseline_mm: float, pixel_size_um: float, scale: float,
                 min_depth_mm: float, max_depth_mm: float) -> str:
    """Return the depth-vs-disparity table at `scale` and the SGBM window of the depth range."""
    focal_px = focal_px_from_lens(focal_length_mm, pixel_size_um) * scale
    width, height = scaled_size((defaults.SENSOR_WIDTH_PX, defaults.SENSOR_HEIGHT_PX), scale)
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
    return '\n'.join(lines)


def geometry_problems(args: argparse.Namespace) -> list[str]:
    """Return what is wrong with the lens, scale and depth-range options (empty = usable)."""
    problems = [f'--{name.replace("_", "-")} must be positive, got {getattr(args, name):g}'
                for name in ('baseline_mm', 'focal_length_mm', 'pixel_size_um', 'scale')
                if hasattr(args, name) and not getattr(args, name) > 0]
    if not 0 < args.min_depth_mm < args.max_depth_mm:
        problems.append(f'--min-depth-mm ({args.min_depth_mm:g}) must be positive and below '
                        f'--max-depth-mm ({args.max_depth_mm:g})')
    return problems


def _run_range(args: argparse.Namespace) -> int:
    args.scale = defaults.SCALE if args.scale is None else args.scale
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


def _output_folder(out: Path) -> Path:
    """Return `out` as an existing folder, or raise OfflineError saying why it cannot be one."""
    if out.exists() and not out.is_dir():
        raise OfflineError(f'--out {out} is a file; give a folder for the outputs')
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OfflineError(f'cannot create the output folder {out}: '
                           f'{error.strerror.lower()}') from None
    return out


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


def _run_depth(args: argparse.Namespace) -> int:
    if args.bag is not None or args.left is None or args.right is None:
        from raiv_stereo import bag_depth
        return bag_depth.run(args)
    notes: list[str] = []
    if args.scale is None:
        args.scale = 1.0 if args.rectified else defaults.SCALE
    try:
        out = _output_folder(Path(args.out))
        left, right = _read_image(args.left, notes), _read_image(args.right, notes)
        if left.shape != right.shape:
            raise OfflineError(f'left is {left.shape[1]}x{left.shape[0]}, right is '
                               f'{right.shape[1]}x{right.shape[0]}: a stereo pair must match')
        calibration = calibration_for(args, (left.shape[1], left.shape[0]))
        explicit = args.num_disparities is not None
        settings = MatcherSettings(
            min_depth_mm=args.min_depth_mm, max_depth_mm=args.max_depth_mm,
            min_disparity=(args.min_disparity or 0) if explicit else None,
            num_disparities=args.num_disparities, block_size=args.block_size,
            mode=args.mode, post_filter=args.post_filter, subpixel=args.subpixel)
        problems = geometry_problems(args) or settings_problems(settings)
        if problems:
            raise OfflineError('; '.join(problems))
        started = time.perf_counter()
        pipeline = StereoPipeline(calibration, args.scale, settings)
        setup_ms = (time.perf_counter() - started) * 1e3
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
    depth_parser.add_argument('--focal-px', type=float, help='focal length of rectified inputs')
    _add_geometry(depth_parser)
    depth_parser.add_argument('--min-disparity', type=int,
                              help='explicit search window start (with --num-disparities)')
    depth_parser.add_argument('--num-disparities', type=int,
                              help='explicit search window size, a multiple of 16')
    depth_parser.add_argument('--block-size', type=int, default=defaults.BLOCK_SIZE,
                              help='SGBM block size, odd')
    depth_parser.add_argument('--mode', default=defaults.SGBM_MODE, choices=defaults.SGBM_MODES,
                              help='SGBM mode')
    depth_parser.add_argument('--post-filter', default=defaults.POST_FILTER,
                              choices=defaults.POST_FILTERS, help='disparity post-filter')
    depth_parser.add_argument('--subpixel', default=defaults.SUBPIXEL, choices=defaults.SUBPIXELS,
                              help="sub-pixel disparity: SGBM's own, or 'refine' (Lucas-Kanade)")
    depth_parser.add_argument('--mask-out-of-range', action='store_true',
                              help='drop depths outside --min/--max-depth-mm')
    from raiv_stereo import bag_depth
    bag_depth.add_arguments(depth_parser)
    depth_parser.set_defaults(func=_run_depth)
