"""`raiv-stereo range` (depth vs disparity, SGBM window) and `raiv-stereo depth` on files."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from raiv_stereo import defaults
from raiv_stereo.calibration import (CalibrationError, StereoCalibration, focal_px_from_lens,
                                     load_calibration, raiv_nominal, rectified_pinhole,
                                     save_camera_info_yaml, scaled_size)
from raiv_stereo.depth import colorize_depth, depth_m_to_mm_u16
from raiv_stereo.matcher import MatcherSettings, disparity_px, search_window, settings_problems
from raiv_stereo.pipeline import StereoPipeline

TABLE_DEPTHS_MM = (200, 300, 400, 500, 750, 1000, 2000, 3000, 4000, 5000)
"""The depths of the maker's published depth-vs-disparity table."""


class OfflineError(Exception):
    """A problem with the command's inputs, reported as one line."""


def _add_geometry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--baseline-mm', type=float, default=defaults.BASELINE_MM,
                        help='stereo baseline in mm (default %(default)g)')
    parser.add_argument('--focal-length-mm', type=float, default=defaults.FOCAL_LENGTH_MM,
                        help='lens focal length in mm (default %(default)g)')
    parser.add_argument('--pixel-size-um', type=float, default=defaults.PIXEL_SIZE_UM,
                        help='pixel pitch in micrometres (default %(default)g)')
    parser.add_argument('--scale', type=float, default=defaults.SCALE,
                        help='working resolution relative to the input (default %(default)g)')
    parser.add_argument('--min-depth-mm', type=float, default=defaults.MIN_DEPTH_MM)
    parser.add_argument('--max-depth-mm', type=float, default=defaults.MAX_DEPTH_MM)


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


def _run_range(args: argparse.Namespace) -> int:
    print(range_report(args.focal_length_mm, args.baseline_mm, args.pixel_size_um, args.scale,
                       args.min_depth_mm, args.max_depth_mm))
    return 0


def _read_image(path: str) -> np.ndarray:
    if not Path(path).is_file():
        raise OfflineError(f'no image file {path!r}')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise OfflineError(f'cannot read image {path!r} (missing, or not an image OpenCV reads)')
    return image


def calibration_for(args: argparse.Namespace, size: tuple[int, int]) -> StereoCalibration:
    """Return the calibration the options describe, for raw images of `size` (w, h)."""
    if args.rectified:
        if not args.focal_px:
            raise OfflineError('--rectified needs --focal-px (and --baseline-mm)')
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
        raise OfflineError(f'{size[0]}x{size[1]} images do not have the RAiV sensor\'s '
                           f'{sensor_w}x{sensor_h} aspect ratio; give --calibration or '
                           '--rectified --focal-px')
    return nominal.with_size(*size)


def _write_outputs(out: Path, result, pipeline: StereoPipeline) -> list[Path]:
    settings = pipeline.settings
    files = {'depth_mm.png': depth_m_to_mm_u16(result.depth_m),
             'disparity.pfm': result.disparity_px,
             'depth_color.png': colorize_depth(result.depth_m, settings.min_depth_mm / 1000.0,
                                               settings.max_depth_mm / 1000.0)}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image in files.items():
        if not cv2.imwrite(str(out / name), image):
            raise OfflineError(f'cannot write {out / name}')
        written.append(out / name)
    save_camera_info_yaml(out / 'camera_info.yaml', pipeline.working.left, 'rectified_left')
    return written + [out / 'camera_info.yaml']


def _run_depth(args: argparse.Namespace) -> int:
    try:
        left, right = _read_image(args.left), _read_image(args.right)
        if left.shape != right.shape:
            raise OfflineError(f'left is {left.shape[1]}x{left.shape[0]}, right is '
                               f'{right.shape[1]}x{right.shape[0]}: a stereo pair must match')
        calibration = calibration_for(args, (left.shape[1], left.shape[0]))
        explicit = args.num_disparities is not None
        settings = MatcherSettings(
            min_depth_mm=args.min_depth_mm, max_depth_mm=args.max_depth_mm,
            min_disparity=(args.min_disparity or 0) if explicit else None,
            num_disparities=args.num_disparities, block_size=args.block_size,
            mode=args.mode, post_filter=args.post_filter)
        problems = settings_problems(settings)
        if problems:
            raise OfflineError('; '.join(problems))
        started = time.perf_counter()
        pipeline = StereoPipeline(calibration, args.scale, settings)
        setup_ms = (time.perf_counter() - started) * 1e3
        result = pipeline.process(left, right, mask_out_of_range=args.mask_out_of_range)
        written = _write_outputs(Path(args.out), result, pipeline)
    except (OfflineError, CalibrationError, ValueError, OSError) as error:
        print(f'raiv-stereo depth: error: {error}', file=sys.stderr)
        return 1
    width, height = pipeline.working.image_size
    timings = ', '.join(f'{name} {ms:.1f}' for name, ms in result.timings_ms.items())
    print(f'{calibration.description}; {left.shape[1]}x{left.shape[0]} -> {width}x{height}, '
          f'disparities {pipeline.matcher.min_disparity}..{pipeline.matcher.max_disparity} px')
    print(f'time (ms): maps {setup_ms:.1f} (once), {timings}')
    print(f'valid depth: {100 * result.valid_share():.1f} % of pixels')
    for path in written:
        print(f'wrote {path}')
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `range` and `depth` subcommands."""
    range_parser = subparsers.add_parser(
        'range', help="print the maker's depth-vs-disparity table and a range's SGBM window")
    _add_geometry(range_parser)
    range_parser.set_defaults(func=_run_range)

    depth_parser = subparsers.add_parser(
        'depth', help='compute depth for one stereo pair of image files')
    depth_parser.add_argument('left')
    depth_parser.add_argument('right')
    depth_parser.add_argument('--out', required=True, help='output folder')
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
    depth_parser.add_argument('--block-size', type=int, default=defaults.BLOCK_SIZE)
    depth_parser.add_argument('--mode', default=defaults.SGBM_MODE, choices=defaults.SGBM_MODES)
    depth_parser.add_argument('--post-filter', default=defaults.POST_FILTER,
                              choices=defaults.POST_FILTERS)
    depth_parser.add_argument('--mask-out-of-range', action='store_true',
                              help='drop depths outside --min/--max-depth-mm')
    depth_parser.set_defaults(func=_run_depth)
