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
`raiv-stereo bench`: our core and node pipeline side by side with plain OpenCV, and accuracy.

Plain OpenCV is done the way the maker's example does it: remap at full resolution with maps from
initUndistortRectifyMap, cv2.resize to the working scale, StereoSGBM on the resized images (the
input's own channels: colour for bgr8, as OpenCV's stereo_match sample), depth = f·B/d.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import dataclasses
from dataclasses import dataclass, field
import itertools
import json
import os
from pathlib import Path
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import cv2
import numpy as np
from raiv_stereo.core.calibration import (
    raiv_nominal,
    rectified_pinhole,
    save_camera_info_yaml,
    StereoCalibration,
)
from raiv_stereo.core.matching.sgbm import (
    DISPARITY_SCALE,
    MatcherSettings,
    search_window,
    wls_available,
)
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.core.rectify import Rectifier
from raiv_stereo.params import defaults
from raiv_stereo.tools.demo import percentile

_SGBM_MODES = {'sgbm': cv2.StereoSGBM_MODE_SGBM, 'sgbm_3way': cv2.StereoSGBM_MODE_SGBM_3WAY,
               'hh': cv2.StereoSGBM_MODE_HH, 'hh4': cv2.StereoSGBM_MODE_HH4}
RANGES_MM = ((300.0, 3000.0), (300.0, 600.0))
SCALES = (0.5, 1.0)
ENCODINGS = ('bgr8', 'mono8')
MODES = ('sgbm_3way', 'sgbm')
REPLAY_FRAMES = 8
"""Pairs the bench camera replays from memory (100 MB at 1600x1300 bgr8)."""


# --- measuring ----------------------------------------------------------------------------------

def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0) so each run gets its own peak."""
    try:
        with open('/proc/self/clear_refs', 'w') as handle:
            handle.write('5')
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """Return the RSS high-water mark (VmHWM) in MB, else getrusage's lifetime peak."""
    try:
        with open('/proc/self/status') as handle:
            for line in handle:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class Timing:
    """Per-frame wall times of one configuration and what the process used meanwhile."""

    ms: list[float]
    cpu_share: float
    """Process CPU time / wall time (2.0 = both of two cores busy)."""
    peak_rss_mb: float

    @property
    def median_ms(self) -> float:
        """Return the median time per frame."""
        return float(np.median(self.ms))

    @property
    def p90_ms(self) -> float:
        """Return the 90th percentile time per frame."""
        return float(np.percentile(self.ms, 90))

    @property
    def fps(self) -> float:
        """Return frames per second at the median time (one frame after another)."""
        return 1000.0 / self.median_ms if self.median_ms > 0 else float('nan')

    def to_dict(self) -> dict[str, float]:
        """Return the summary figures."""
        return {'median_ms': self.median_ms, 'p90_ms': self.p90_ms, 'fps': self.fps,
                'cpu_share': self.cpu_share, 'peak_rss_mb': self.peak_rss_mb}


def time_frames(process: Callable[[np.ndarray, np.ndarray], object],
                frames: list[tuple[np.ndarray, np.ndarray]], count: int,
                warmup: int = 1) -> Timing:
    """Run `process` on `count` frames (cycling), after `warmup` untimed ones."""
    return time_interleaved({'only': process}, frames, count, warmup)['only']


def time_interleaved(processes: dict[str, Callable[[np.ndarray, np.ndarray], object]],
                     frames: list[tuple[np.ndarray, np.ndarray]], count: int,
                     warmup: int = 1) -> dict[str, Timing]:
    """Time several methods frame by frame in turn, so load from elsewhere hits them alike."""
    for index in range(warmup):
        for process in processes.values():
            process(*frames[index % len(frames)])
    times_ms: dict[str, list[float]] = {name: [] for name in processes}
    cpu_s = dict.fromkeys(processes, 0.0)
    peak_mb = dict.fromkeys(processes, 0.0)
    for index in range(count):
        for name, process in processes.items():
            _reset_peak_rss()
            cpu0, started = time.process_time(), time.perf_counter()
            process(*frames[index % len(frames)])
            times_ms[name].append((time.perf_counter() - started) * 1000.0)
            cpu_s[name] += time.process_time() - cpu0
            peak_mb[name] = max(peak_mb[name], _peak_rss_mb())
    return {name: Timing(times_ms[name], cpu_s[name] / (sum(times_ms[name]) / 1000.0),
                         peak_mb[name]) for name in processes}


def load_average() -> float:
    """Return the 1-minute load average (other work on the machine skews every figure)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float('nan')


# --- the alternative: plain OpenCV --------------------------------------------------------------

class PlainOpenCV:
    """Remap at full size, resize to scale, StereoSGBM on the input's channels, f·B/d."""

    def __init__(self, calibration: StereoCalibration, scale: float, settings: MatcherSettings,
                 channels: int, min_disparity: int | None = None,
                 num_disparities: int | None = None) -> None:
        """Build full-size maps and SGBM with OpenCV's usual P1/P2 for `channels`."""
        size = calibration.image_size
        self.maps = [cv2.initUndistortRectifyMap(cam.K, cam.D, cam.R, cam.P[:, :3], size,
                                                 cv2.CV_16SC2)
                     for cam in (calibration.left, calibration.right)]
        self.scale = scale
        self.output_size = (int(size[0] * scale + 0.5), int(size[1] * scale + 0.5))
        self.focal_px = calibration.focal_px * scale
        self.baseline_m = calibration.baseline_m
        if min_disparity is None or num_disparities is None:
            min_disparity, num_disparities = search_window(
                self.focal_px, calibration.baseline_mm, settings.min_depth_mm,
                settings.max_depth_mm)
        self.min_disparity, self.num_disparities = min_disparity, num_disparities
        block = settings.block_size
        self.sgbm = cv2.StereoSGBM.create(
            minDisparity=min_disparity, numDisparities=num_disparities, blockSize=block,
            P1=8 * channels * block * block, P2=32 * channels * block * block,
            disp12MaxDiff=settings.disp12_max_diff, preFilterCap=settings.pre_filter_cap,
            uniquenessRatio=settings.uniqueness_ratio,
            speckleWindowSize=settings.speckle_window_size, speckleRange=settings.speckle_range,
            mode=_SGBM_MODES[settings.mode])

    def rectify(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the pair remapped at full size, then resized to the working scale."""
        out = []
        for image, (map_xy, map_fraction) in zip((left, right), self.maps, strict=True):
            image = cv2.remap(image, map_xy, map_fraction, cv2.INTER_LINEAR)
            if self.scale != 1.0:
                image = cv2.resize(image, self.output_size)
            out.append(image)
        return out[0], out[1]

    def disparity_px(self, left_rect: np.ndarray, right_rect: np.ndarray) -> np.ndarray:
        """Return SGBM disparity in px, NaN where SGBM found none."""
        raw = self.sgbm.compute(left_rect, right_rect)
        disparity = raw.astype(np.float32) / DISPARITY_SCALE
        disparity[raw < self.min_disparity * DISPARITY_SCALE] = np.nan
        return disparity

    def process(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (disparity px, depth m) for one raw pair."""
        disparity = self.disparity_px(*self.rectify(left, right))
        with np.errstate(divide='ignore', invalid='ignore'):
            depth = np.float32(self.focal_px * self.baseline_m) / disparity
        depth[~(disparity > 0)] = np.nan
        return disparity, depth


# --- frames -------------------------------------------------------------------------------------

def rig(width_px: int = defaults.SENSOR_WIDTH_PX,
        height_px: int = defaults.SENSOR_HEIGHT_PX) -> StereoCalibration:
    """Return the distorted, slightly misaligned RAiV rig the synthetic frames come from."""
    from raiv_stereo.eval.scene import distorted_rig

    return distorted_rig(raiv_nominal(width_px=width_px, height_px=height_px))


def render_frames(calibration: StereoCalibration, count: int,
                  with_truth: bool = False) -> list:
    """Return `count` RenderedPairs of the sample scene at different times."""
    from raiv_stereo.eval.scene import Renderer

    renderer = Renderer(calibration)
    return [renderer.render(0.37 * index, with_truth=with_truth) for index in range(count)]


def _as(encoding: str, pairs: list) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the (left, right) raw images of `pairs` in `encoding`."""
    if encoding == 'mono8':
        return [(cv2.cvtColor(p.left_bgr, cv2.COLOR_BGR2GRAY),
                 cv2.cvtColor(p.right_bgr, cv2.COLOR_BGR2GRAY)) for p in pairs]
    return [(p.left_bgr, p.right_bgr) for p in pairs]


# --- 1. speed -----------------------------------------------------------------------------------

def speed_configs(quick: bool, with_hh: bool) -> list[dict]:
    """Return the speed configurations (scale, range, mode, encoding)."""
    if quick:
        return [{'scale': 0.5, 'min_depth_mm': 300.0, 'max_depth_mm': 3000.0,
                 'mode': 'sgbm_3way', 'encoding': 'mono8'}]
    configs = []
    for scale in SCALES:
        for min_mm, max_mm in RANGES_MM:
            modes = MODES + (('hh',) if with_hh or scale == 0.5 else ())
            for mode in modes:
                for encoding in ENCODINGS:
                    configs.append({'scale': scale, 'min_depth_mm': min_mm,
                                    'max_depth_mm': max_mm, 'mode': mode,
                                    'encoding': encoding})
    return configs


def _frame_count(base: int, scale: float, mode: str) -> int:
    """Return fewer frames for the slow configurations."""
    if mode == 'hh':
        return max(3, base // 4)
    return base if scale <= 0.5 else max(4, base // 2)


def bench_speed(calibration: StereoCalibration, pairs: list, configs: list[dict],
                frames: int, log: Callable[[str], None]) -> list[dict]:
    """Time plain OpenCV and our core on the same frames for each configuration."""
    rows = []
    for config in configs:
        settings = MatcherSettings(min_depth_mm=config['min_depth_mm'],
                                   max_depth_mm=config['max_depth_mm'], mode=config['mode'])
        images = _as(config['encoding'], pairs)
        channels = 3 if config['encoding'] == 'bgr8' else 1
        count = _frame_count(frames, config['scale'], config['mode'])
        opencv = PlainOpenCV(calibration, config['scale'], settings, channels)
        ours = StereoPipeline(calibration, config['scale'], settings)
        before = _previous_default(calibration, config['scale'], settings)
        load = load_average()
        timings = time_interleaved({'opencv': opencv.process, 'ours': ours.process,
                                    'ours_before': before.process}, images, count)
        opencv_timing, ours_timing = timings['opencv'], timings['ours']
        row = dict(config, num_disparities=ours.matcher.num_disparities,
                   min_disparity=ours.matcher.min_disparity, frames=count, load=load,
                   opencv=opencv_timing.to_dict(), ours=ours_timing.to_dict(),
                   ours_before=timings['ours_before'].to_dict(),
                   ratio=ours_timing.median_ms / opencv_timing.median_ms,
                   before_ratio=timings['ours_before'].median_ms / opencv_timing.median_ms)
        rows.append(row)
        log(f'  speed {_config_label(config)}: OpenCV {opencv_timing.median_ms:.1f} ms, '
            f'ours {ours_timing.median_ms:.1f} ms (x{row["ratio"]:.2f}), before '
            f'{timings["ours_before"].median_ms:.1f} ms (x{row["before_ratio"]:.2f})')
    return rows


class RemapFirstRectifier(Rectifier):
    """The previous order, for comparison: remap at full size, then area-downscale (sharper)."""

    def __init__(self, calibration: StereoCalibration, scale: float) -> None:
        """Build the remap tables at the calibration's own size."""
        super().__init__(calibration, scale)
        if self._maps is not None:
            self._maps = self._build_maps(calibration)

    def _convert(self, image: np.ndarray, index: int) -> np.ndarray:
        if self._maps is not None:
            image = cv2.remap(image, *self._maps[index], cv2.INTER_LINEAR)
        if self.output_size != self.input_size:
            image = cv2.resize(image, self.output_size, interpolation=cv2.INTER_AREA)
        return image


def _previous_default(calibration: StereoCalibration, scale: float,
                      settings: MatcherSettings) -> StereoPipeline:
    """Return the core without the refinement: full-size remap, SGBM's own sub-pixel fit."""
    pipeline = StereoPipeline(calibration, scale, dataclasses.replace(settings, subpixel='sgbm'))
    pipeline.rectifier = RemapFirstRectifier(calibration, scale)
    return pipeline


def _config_label(config: dict) -> str:
    return (f'scale {config["scale"]:g}, {config["min_depth_mm"]:g}-'
            f'{config["max_depth_mm"]:g} mm, {config["mode"]}, {config["encoding"]}')


# --- 3. accuracy --------------------------------------------------------------------------------

def synthetic_accuracy(calibration: StereoCalibration, scale: float,
                       min_depth_mm: float, max_depth_mm: float, count: int,
                       encoding: str = 'bgr8') -> dict:
    """
    Return depth and disparity error of ours and plain OpenCV against the scene's truth.

    Also the per-depth-bin error (for the error-vs-depth plot).
    """
    from raiv_stereo.eval.datasets import disparity_error_rates
    from raiv_stereo.eval.scene import sample_scene, truth_depth_m
    from raiv_stereo.tools.demo import DepthAccuracy, judged_mask

    settings = MatcherSettings(min_depth_mm=min_depth_mm, max_depth_mm=max_depth_mm)
    ours = StereoPipeline(calibration, scale, settings)
    before = _previous_default(calibration, scale, settings)
    methods = {'opencv': PlainOpenCV(calibration, scale, settings,
                                     3 if encoding == 'bgr8' else 1)}
    if encoding == 'bgr8':
        methods['opencv_grey'] = PlainOpenCV(calibration, scale, settings, 1)
    working = ours.working
    height_px, width_px = working.image_size[1], working.image_size[0]
    window = ours.matcher.valid_window(width_px, height_px)
    scene = sample_scene()
    pairs = render_frames(calibration, count)
    images = _as(encoding, pairs)
    min_m, max_m = min_depth_mm / 1000.0, max_depth_mm / 1000.0
    bins_m = np.linspace(min_m, max_m, 10)
    results: dict = {}
    for name in ('ours', 'ours_before', *methods):
        results[name] = {'depth': [], 'disparity': [], 'bins': []}
    for index, (left, right) in enumerate(images):
        truth = truth_depth_m(working, scene, 0.37 * index)
        judged = judged_mask(truth, min_m, max_m, window)
        truth_px = np.where(judged, working.focal_px * working.baseline_m / truth, np.inf)
        result = ours.process(left, right)
        outputs = {'ours': (result.disparity_px, result.depth_m)}
        result = before.process(left, right)
        outputs['ours_before'] = (result.disparity_px, result.depth_m)
        grey = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
                for image in (left, right)]
        for name, method in methods.items():
            outputs[name] = method.process(*(grey if name == 'opencv_grey' else (left, right)))
        for name, (disp, dep) in outputs.items():
            accuracy = DepthAccuracy.measure(dep, truth, min_m, max_m, window)
            results[name]['depth'].append(accuracy.__dict__)
            results[name]['disparity'].append(disparity_error_rates(disp, truth_px))
            relative = np.abs(dep - truth) / truth
            per_bin = []
            for low, high in zip(bins_m[:-1], bins_m[1:], strict=True):
                in_bin = judged & (truth >= low) & (truth < high)
                found = in_bin & np.isfinite(dep)
                per_bin.append((float(np.median(relative[found])) * 100.0
                                if found.sum() > 20 else float('nan'),
                                float(found.sum() / max(in_bin.sum(), 1)) * 100.0))
            results[name]['bins'].append(per_bin)
    summary = {'scale': scale, 'min_depth_mm': min_depth_mm, 'max_depth_mm': max_depth_mm,
               'encoding': encoding, 'frames': count,
               'bin_centres_m': list((bins_m[:-1] + bins_m[1:]) / 2.0)}
    for name, values in results.items():
        depth_keys = values['depth'][0].keys()
        rate_keys = values['disparity'][0].keys()
        summary[name] = {key: float(np.mean([v[key] for v in values['depth']]))
                         for key in depth_keys}
        summary[name].update({key: float(np.mean([v[key] for v in values['disparity']]))
                              for key in rate_keys})
        bins = np.array(values['bins'], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)  # a bin may hold no depth at all
            summary[name]['median_error_pct_by_bin'] = list(np.nanmean(bins[:, :, 0], axis=0))
            summary[name]['completeness_pct_by_bin'] = list(np.nanmean(bins[:, :, 1], axis=0))
    return summary


def dataset_accuracy(log: Callable[[str], None]) -> list[dict]:
    """Return bad-1/2/4 and density of ours and plain OpenCV on every stereo_data scene."""
    from raiv_stereo.eval import datasets

    rows = []
    for scene_dir in datasets.scenes():
        pair = datasets.load_pair(scene_dir)
        num = int(np.ceil((pair.max_disparity_px + 1) / 16.0)) * 16
        settings = MatcherSettings(min_disparity=0, num_disparities=num)
        height_px, width_px = pair.left.shape[:2]
        calibration = rectified_pinhole(1000.0, 0.1, width_px, height_px)
        ours = StereoPipeline(calibration, 1.0, settings)
        row = {'scene': pair.name, 'num_disparities': num}
        for name, channels, left, right in (
                ('opencv', 3, pair.left, pair.right),
                ('opencv_grey', 1, cv2.cvtColor(pair.left, cv2.COLOR_BGR2GRAY),
                 cv2.cvtColor(pair.right, cv2.COLOR_BGR2GRAY))):
            opencv = PlainOpenCV(calibration, 1.0, settings, channels, 0, num)
            started = time.perf_counter()
            disparity = opencv.disparity_px(left, right)
            row[name] = dict(datasets.disparity_error_rates(disparity, pair.disparity_px),
                             ms=(time.perf_counter() - started) * 1000.0)
        before = _previous_default(calibration, 1.0, settings)
        for name, pipeline in (('ours_before', before), ('ours', ours)):
            result = pipeline.process(pair.left, pair.right)
            row[name] = dict(datasets.disparity_error_rates(result.disparity_px,
                                                            pair.disparity_px),
                             ms=result.timings_ms['total'])
        rows.append(row)
        log(f'  {pair.name}: bad-2 OpenCV {row["opencv"]["bad-2"]:.1f} %, ours '
            f'{row["ours"]["bad-2"]:.1f} %, before {row["ours_before"]["bad-2"]:.1f} %')
    return rows


# --- 3c. the evaluation family: unseen scenes -------------------------------------------------

FAMILY_SEEDS = tuple(range(1000, 1012))
"""Held-out scenes of the family (scene.family_case): no default was chosen on them. Defaults
were tuned on seeds 0-11 (FAMILY_TUNING_SEEDS)."""
FAMILY_TUNING_SEEDS = tuple(range(12))


def family_methods() -> dict[str, tuple[str, dict]]:
    """Return label -> ('opencv' | 'ours', MatcherSettings changes) of the family section."""
    return {
        'plain OpenCV, our SGBM settings (colour)': ('opencv', {}),
        f'ours, sgbm_resolution half{_default_label("half")}': (
            'ours', {'sgbm_resolution': 'half'}),
        f'ours, sgbm_resolution full{_default_label("full")}': (
            'ours', {'sgbm_resolution': 'full'}),
    }


def bench_family(seeds: tuple[int, ...], log: Callable[[str], None],
                 methods: dict[str, tuple[str, dict]] | None = None) -> dict:
    """
    Return each method's accuracy over the family's `seeds` (mean and worst), and its time.

    Every scene: 1600x1300 bgr8 through its own rig and photometry, scale 0.5, 300-3000 mm,
    judged inside the valid window. Time: per scene each method runs twice in turn, the second
    run timed; the ratio to the first method (plain OpenCV) is the median over scenes.
    """
    from raiv_stereo.eval import datasets
    from raiv_stereo.eval.metrics import evaluate, summarize
    from raiv_stereo.eval.scene import family_case, truth_depth_m
    from raiv_stereo.tools.demo import judged_mask

    methods = methods or family_methods()
    settings = MatcherSettings(min_depth_mm=300.0, max_depth_mm=3000.0)
    results: dict[str, list[dict]] = {label: [] for label in methods}
    times: dict[str, list[float]] = {label: [] for label in methods}
    for seed in seeds:
        case = family_case(seed)
        pair = case.render()
        processes = {label: _method(kind, changes, case.calibration, 0.5, settings, 3)
                     for label, (kind, changes) in methods.items()}
        reference = StereoPipeline(case.calibration, 0.5, settings)
        working = reference.working
        truth = truth_depth_m(working, case.scene)
        judged = judged_mask(truth, 0.3, 3.0,
                             reference.matcher.valid_window(*working.image_size))
        slanted = case.slanted_mask(working)
        outputs = {}
        for process in processes.values():  # warm-up: maps, first SGBM buffers
            process(pair.left_bgr, pair.right_bgr)
        for label, process in processes.items():
            started = time.perf_counter()
            outputs[label] = process(pair.left_bgr, pair.right_bgr)[1]
            times[label].append((time.perf_counter() - started) * 1000.0)
        for label, depth in outputs.items():
            results[label].append(evaluate(depth, truth, judged, slanted, working.focal_px,
                                           working.baseline_m))
        log(f'  family seed {seed}: within 2 % ' + ', '.join(
            f'{100 * results[label][-1]["within_2pct"]:.1f}' for label in methods))
    reference_label = next(iter(methods))
    rows = []
    for label, per_seed in results.items():
        ratios = [t / r for t, r in zip(times[label], times[reference_label], strict=True)]
        rows.append({'method': label, 'kind': methods[label][0],
                     'changes': methods[label][1], 'ms': float(np.median(times[label])),
                     'ratio': float(np.median(ratios)), **summarize(per_seed),
                     'per_seed': [{'seed': seed, 'within_2pct': r['within_2pct']}
                                  for seed, r in zip(seeds, per_seed, strict=True)]})
    return {'seeds': list(seeds), 'photos': bool(datasets.scenes()), 'load': load_average(),
            'rows': rows}


def family_table(family: dict) -> list[str]:
    """Return the family section as Markdown: overall figures, then per depth band."""
    from raiv_stereo.eval.metrics import band_label, BANDS_M

    seeds = family['seeds']
    lines = ['## 3c. Evaluation family: unseen scenes (mean / worst over seeds '
             f'{seeds[0]}-{seeds[-1]}, {len(seeds)} scenes)', '',
             'Each seed (eval/scene.py family_case): its own distorted, misaligned rig, '
             'back wall 2.3-2.95 m, tilted floor, boxes and a slanted panel, near card; '
             'textures from noise, aliasing octaves, smooth low-contrast, '
             + ('stereo_data photo crops' if family['photos'] else
                'photo crops (stereo_data absent: noise instead)') +
             ', stripes; gain 0.9-1.1, offset, noise sigma 0.5-4, vignetting, defocus. '
             '1600x1300 bgr8 -> scale 0.5, 300-3000 mm, judged inside the valid window. '
             'Locking: spread % = variation of the histogram of fractional disparities on '
             "slanted surfaces relative to the truth's (0 = flat); swing px = peak-to-peak of "
             "the median error over the truth's fractional part. Time: median over scenes of "
             f'the ratio to the first row, same process, load {family["load"]:.1f}.', '',
             '| method | time vs OpenCV | complete % | within 1 % | within 2 % | within 5 % '
             '| median signed % | locking spread % | locking swing px |',
             '|---|---|---|---|---|---|---|---|---|']

    def pair(row: dict, key: str, scale: float = 100.0, digits: int = 1) -> str:
        return (f'{_f(scale * row["mean"][key], digits)} / '
                f'{_f(scale * row["worst"][key], digits)}')
    for row in family['rows']:
        lines.append(f'| {row["method"]} | {_f(row["ratio"], 2)} | {pair(row, "completeness")} '
                     f'| {pair(row, "within_1pct")} | {pair(row, "within_2pct")} '
                     f'| {pair(row, "within_5pct")} | {pair(row, "median_signed_pct", 1, 2)} '
                     f'| {pair(row, "spread_pct", 1)} | {pair(row, "swing_px", 1, 3)} |')
    labels = [band_label(band) for band in BANDS_M]
    lines += ['', 'Per depth band (mean / worst over the scenes that have it): within 2 %, '
              'median signed error %.', '',
              '| method | ' + ' | '.join(f'{label} within 2 % | {label} median %'
                                         for label in labels) + ' |',
              '|---' * (1 + 2 * len(labels)) + '|']
    for row in family['rows']:
        cells = []
        for label in labels:
            band = row['bands'].get(label)
            if band is None:
                cells += ['n/a', 'n/a']
                continue
            cells.append(f'{_f(100 * band["within_2pct_mean"])} / '
                         f'{_f(100 * band["within_2pct_worst"])}')
            cells.append(f'{_f(band["median_signed_pct_mean"], 2)} / '
                         f'{_f(band["median_signed_pct_worst"], 2)}')
        lines.append(f'| {row["method"]} | ' + ' | '.join(cells) + ' |')
    return lines + ['']


# --- 0. configurations: speed and accuracy in one table ----------------------------------------

OPENCV_OWN_DEFAULTS = {'uniqueness_ratio': 0, 'speckle_window_size': 0, 'speckle_range': 0,
                       'disp12_max_diff': 0}
"""StereoSGBM.create()'s own values for what our settings otherwise set (no filtering)."""


def _default_label(sgbm_resolution: str) -> str:
    """Return ' (depth node default)' / ' (launch default)' where this resolution is one."""
    return ''.join(f' ({label} default)' for label, value in (
        ('depth node', defaults.SGBM_RESOLUTION), ('launch', defaults.LAUNCH_SGBM_RESOLUTION))
        if value == sgbm_resolution)


def configurations() -> dict[str, tuple[str, dict]]:
    """Return label -> ('opencv' | 'ours', MatcherSettings changes) for the summary table."""
    return {
        'plain OpenCV, our SGBM settings': ('opencv', {}),
        'plain OpenCV, SGBM own defaults': ('opencv', OPENCV_OWN_DEFAULTS),
        **{f'ours, sgbm_resolution {name}{_default_label(name)}':
           ('ours', {'sgbm_resolution': name}) for name in defaults.SGBM_RESOLUTIONS},
        'ours, full + holes filled (min_confidence 0.25)': ('ours', {'min_confidence': 0.25}),
        "ours, full + SGBM's sub-pixel (no refinement)": ('ours', {'subpixel': 'sgbm'}),
        # The post-filters, each alone on the depth node default (doc/post_filters.md).
        **({'ours, full + post_filter wls': ('ours', {'post_filter': 'wls'})}
           if wls_available() else {}),
        'ours, full + spatial_fill_px 8': ('ours', {'spatial_fill_px': 8}),
        'ours, full + temporal_filter_alpha 0.4': ('ours', {'temporal_filter_alpha': 0.4}),
    }


def _method(kind: str, changes: dict, calibration: StereoCalibration, scale: float,
            settings: MatcherSettings, channels: int, **window) -> Callable:
    """Return process(left, right) -> (disparity px, depth m) of one configuration."""
    from raiv_stereo.core import post_filters

    filters = {k: v for k, v in changes.items() if k in post_filters.PARAMETER_NAMES}
    settings = dataclasses.replace(settings, **{k: v for k, v in changes.items()
                                                if k not in filters})
    if kind == 'opencv':
        return PlainOpenCV(calibration, scale, settings, channels, **window).process

    pipeline = StereoPipeline(calibration, scale, settings)
    post_filters.configure(pipeline, post_filters.settings_from(filters))

    def process(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = pipeline.process(left, right)
        return result.disparity_px, result.depth_m
    return process


def bench_configurations(calibration: StereoCalibration, frames: int,
                         log: Callable[[str], None], quick: bool = False) -> list[dict]:
    """
    Return one row per configuration: time and depth accuracy on the rig, bad-2 per scene.

    Rig: 1600x1300 bgr8 -> scale 0.5, 300-3000 mm, every configuration timed frame by frame in
    turn with plain OpenCV (our settings) as the reference. Scenes: stereo_data at their own
    size, as dataset_accuracy does (colour input for OpenCV, as the maker's example).
    """
    from raiv_stereo.eval import datasets
    from raiv_stereo.eval.scene import sample_scene, truth_depth_m
    from raiv_stereo.tools.demo import DepthAccuracy

    settings = MatcherSettings(min_depth_mm=300.0, max_depth_mm=3000.0)
    configs = configurations()
    rendered = render_frames(calibration, 2 if quick else 3, with_truth=False)
    images = _as('bgr8', rendered)
    methods = {label: _method(kind, changes, calibration, 0.5, settings, 3)
               for label, (kind, changes) in configs.items()}
    timings = time_interleaved(methods, images, frames)
    reference_ms = timings['plain OpenCV, our SGBM settings'].median_ms
    reference = StereoPipeline(calibration, 0.5, settings)
    working = reference.working
    window = reference.matcher.valid_window(*working.image_size)
    scene = sample_scene()
    truths = [truth_depth_m(working, scene, 0.37 * index) for index in range(len(images))]
    rows = []
    for label, method in methods.items():
        accuracy = [DepthAccuracy.measure(method(*pair)[1], truth, 0.3, 3.0, window).__dict__
                    for pair, truth in zip(images, truths, strict=True)]
        timing = timings[label]
        rows.append({'config': label, 'kind': configs[label][0], 'changes': configs[label][1],
                     'ms': timing.median_ms, 'p90_ms': timing.p90_ms,
                     'ratio': timing.median_ms / reference_ms, 'fps': timing.fps,
                     **{key: float(np.mean([a[key] for a in accuracy]))
                        for key in accuracy[0]}, 'bad2': {}})
    for scene_dir in ([] if quick else datasets.scenes()):
        pair = datasets.load_pair(scene_dir)
        num = int(np.ceil((pair.max_disparity_px + 1) / 16.0)) * 16
        scene_settings = MatcherSettings(min_disparity=0, num_disparities=num)
        height_px, width_px = pair.left.shape[:2]
        flat = rectified_pinhole(1000.0, 0.1, width_px, height_px)
        for row, (kind, changes) in zip(rows, configs.values(), strict=True):
            method = _method(kind, changes, flat, 1.0, scene_settings, 3, min_disparity=0,
                             num_disparities=num)
            disparity = method(pair.left, pair.right)[0]
            row['bad2'][pair.name] = datasets.disparity_error_rates(
                disparity, pair.disparity_px)['bad-2']
        log(f'  {pair.name}: bad-2 ' + ', '.join(f'{r["bad2"][pair.name]:.1f}' for r in rows))
    opencv_rows = [row for row in rows if row['kind'] == 'opencv']
    for row in rows:
        bad2 = list(row['bad2'].values())
        row['mean_bad2'] = float(np.mean(bad2)) if bad2 else float('nan')
        row['scenes_below_opencv'] = sum(
            all(row['bad2'][name] < other['bad2'][name] for other in opencv_rows)
            for name in row['bad2'])
        log(f'  {row["config"]}: {row["ms"]:.1f} ms (x{row["ratio"]:.2f}), within 1 % '
            f'{100 * row["within_1pct"]:.1f} %, mean bad-2 {row["mean_bad2"]:.2f} %')
    return rows


# --- 4. scaling and stages ----------------------------------------------------------------------

def bench_input_size(sizes: list[tuple[int, int]], frames: int, scale: float) -> list[dict]:
    """Time ours and plain OpenCV (mono8, 300-3000 mm) for several sensor sizes at `scale`."""
    rows = []
    settings = MatcherSettings()
    for width_px, height_px in sizes:
        calibration = rig(width_px, height_px)
        images = _as('mono8', render_frames(calibration, 2))
        ours = StereoPipeline(calibration, scale, settings)
        opencv = PlainOpenCV(calibration, scale, settings, 1)
        rows.append({'input': f'{width_px}x{height_px}', 'pixels': width_px * height_px,
                     'scale': scale, 'num_disparities': ours.matcher.num_disparities,
                     **{name: timing.to_dict() for name, timing in time_interleaved(
                         {'opencv': opencv.process, 'ours': ours.process}, images,
                         frames).items()}})
    return rows


def bench_window(calibration: StereoCalibration, pairs: list, windows: list[int],
                 frames: int, scale: float = 0.5) -> list[dict]:
    """Time ours and plain OpenCV against numDisparities (min_disparity 0, mono8)."""
    rows = []
    images = _as('mono8', pairs)
    for num in windows:
        settings = MatcherSettings(min_disparity=0, num_disparities=num)
        ours = StereoPipeline(calibration, scale, settings)
        opencv = PlainOpenCV(calibration, scale, settings, 1, 0, num)
        match_ms: list[float] = []

        def ours_process(left: np.ndarray, right: np.ndarray, core=ours,
                         record=match_ms) -> None:
            record.append(core.process(left, right).timings_ms['match'])

        timings = time_interleaved({'opencv': opencv.process, 'ours': ours_process}, images,
                                   frames)
        rows.append({'num_disparities': num, 'ours': timings['ours'].to_dict(),
                     'ours_match_ms': float(np.median(match_ms[1:])),
                     'opencv': timings['opencv'].to_dict()})
    return rows


def _median_ms(function: Callable[[], object], count: int) -> float:
    function()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(times))


def bench_stages(calibration: StereoCalibration, pairs: list, frames: int) -> dict:
    """
    Return where the time of one bgr8 frame at scale 0.5, 300-3000 mm goes (ms, medians).

    Core stages from the pipeline's own timings; message conversion and publish measured here
    with real rclpy publishers (a subscriber present, so DDS does serialize and deliver).
    """
    from raiv_stereo.core import depth as depth_module
    from raiv_stereo.ros import conversions

    settings = MatcherSettings()
    core = StereoPipeline(calibration, 0.5, settings)
    images = _as('bgr8', pairs)
    core.process(*images[0])
    timings = [core.process(*images[i % len(images)]).timings_ms for i in range(frames)]
    stages = {f'core.{key}': float(np.median([t[key] for t in timings])) for key in timings[0]}
    opencv = PlainOpenCV(calibration, 0.5, settings, 3)
    stages['opencv.rectify (remap full + resize)'] = _median_ms(
        lambda: opencv.rectify(*images[0]), frames)
    rect = opencv.rectify(*images[0])
    stages['opencv.match (SGBM, colour)'] = _median_ms(lambda: opencv.disparity_px(*rect),
                                                       frames)
    grey = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in rect]
    opencv_grey = PlainOpenCV(calibration, 0.5, settings, 1)
    stages['opencv.match (SGBM, grey)'] = _median_ms(lambda: opencv_grey.disparity_px(*grey),
                                                     frames)

    from std_msgs.msg import Header
    header = Header(frame_id='bench')
    result = core.process(*images[0])
    raw_msg = conversions.image_to_msg(images[0][0], 'bgr8', header)
    window = core.matcher.valid_window(result.depth_m.shape[1], result.depth_m.shape[0])
    working = core.working
    stages['node.msg_to_image x2 (1600x1300 bgr8)'] = _median_ms(
        lambda: (conversions.msg_to_image(raw_msg), conversions.msg_to_image(raw_msg)), frames)
    stages['node.depth (masked f·B/d)'] = _median_ms(
        lambda: depth_module.disparity_to_depth_m(result.disparity_px, working.focal_px,
                                                  working.baseline_m, 0.3, 3.0), frames)
    stages['node.disparity_msg'] = _median_ms(
        lambda: conversions.disparity_msg(result.disparity_px, header, working.focal_px,
                                          working.baseline_m, core.matcher.min_disparity,
                                          core.matcher.max_disparity, window), frames)
    stages['node.image_to_msg depth 32FC1'] = _median_ms(
        lambda: conversions.image_to_msg(result.depth_m, '32FC1', header), frames)
    stages['node.colorize_depth (only if subscribed)'] = _median_ms(
        lambda: depth_module.colorize_depth(result.depth_m, 0.3, 3.0), frames)
    stages['node.point_cloud_msg (only if subscribed)'] = _median_ms(
        lambda: conversions.point_cloud_msg(result.depth_m, working.left.K, header,
                                            colors_bgr=None), frames)
    depth_msg = conversions.image_to_msg(result.depth_m, '32FC1', header)
    stages.update(_publish_times(raw_msg, depth_msg, frames))
    return stages


def _publish_times(raw_msg, depth_msg, frames: int) -> dict[str, float]:
    """Time publish() of a raw camera image and a depth image with a subscriber on each."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    context = rclpy.Context()
    rclpy.init(context=context)
    out: dict[str, float] = {}
    nodes = []
    try:
        publisher_node = rclpy.create_node('bench_publisher', context=context)
        subscriber_node = rclpy.create_node('bench_subscriber', context=context)
        nodes = [publisher_node, subscriber_node]
        received: list[int] = []
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(subscriber_node)
        for label, topic, msg in (('node.publish raw 1600x1300 bgr8', 'bench_raw', raw_msg),
                                  ('node.publish depth 800x650 32FC1', 'bench_depth',
                                   depth_msg)):
            publisher = publisher_node.create_publisher(Image, topic, 5)
            subscriber_node.create_subscription(Image, topic,
                                                lambda m: received.append(len(m.data)), 5)
            deadline = time.monotonic() + 5.0
            while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            times = []
            for _ in range(frames):
                started = time.perf_counter()
                publisher.publish(msg)
                times.append((time.perf_counter() - started) * 1000.0)
                executor.spin_once(timeout_sec=0.5)
            out[label] = float(np.median(times))
        out['node.publish delivered messages'] = float(len(received))
        executor.shutdown()
    finally:
        for node in nodes:
            node.destroy_node()
        context.try_shutdown()
    return out


# --- 2. the node pipeline through DDS -----------------------------------------------------------

@dataclass
class PipelineRun:
    """What a subscriber of depth/image_rect saw from camera node -> depth node over DDS."""

    rate_hz: float
    seconds: float
    encoding: str
    received: int = 0
    published: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    processing_ms: list[float] = field(default_factory=list)
    dropped: int = 0
    cpu_share: float = 0.0
    peak_rss_mb: float = 0.0
    layout: str = ''
    camera: str = ''
    load: float = float('nan')
    info_stamps_ns: list[int] = field(default_factory=list)
    depth_stamps_ns: list[int] = field(default_factory=list)
    camera_stages: dict = field(default_factory=dict)
    depth_stages: dict = field(default_factory=dict)
    camera_cpu_share: float = float('nan')
    core_in_node_ms: float = float('nan')

    def to_dict(self) -> dict:
        """Return the summary figures; rates from the span of the messages' stamps."""
        def stamp_rate(stamps: list[int]) -> float:
            # Messages over the span of their camera stamps: a backlog delivered in a burst
            # after the counters were reset does not count as rate.
            span_s = (max(stamps) - min(stamps)) / 1e9 if len(stamps) > 1 else 0.0
            return (len(stamps) - 1) / span_s if span_s > 0 else 0.0

        by_count = self.received / self.elapsed_s if self.elapsed_s else 0.0
        camera_by_count = self.published / self.elapsed_s if self.elapsed_s else 0.0
        return {'rate_hz': self.rate_hz, 'encoding': self.encoding, 'layout': self.layout,
                'camera': self.camera, 'load': self.load,
                'seconds': self.elapsed_s, 'received': self.received,
                'fps': stamp_rate(self.depth_stamps_ns) or by_count,
                'camera_fps': stamp_rate(self.info_stamps_ns) or camera_by_count,
                'fps_by_count': by_count, 'camera_fps_by_count': camera_by_count,
                'latency_median_ms': percentile(self.latencies_ms, 50),
                'latency_p90_ms': percentile(self.latencies_ms, 90),
                'processing_median_ms': percentile(self.processing_ms, 50),
                'processing_p90_ms': percentile(self.processing_ms, 90),
                'dropped': self.dropped, 'cpu_share': self.cpu_share,
                'peak_rss_mb': self.peak_rss_mb}


def _camera_process(params: dict, namespace: str, folder: Path) -> subprocess.Popen:
    """
    Start the camera node in its own process, as the launch files do (their environment too).

    Its logger alone at DEBUG: its per-stage time lines go to folder/camera.log.
    """
    from raiv_stereo.params import launch as launch_config
    import yaml

    path = folder / 'camera_params.yaml'
    path.write_text(yaml.safe_dump({'/**': {'ros__parameters': params}}))
    command = [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args',
               '-r', f'__ns:=/{namespace}', '--params-file', str(path),
               '--log-level', f'{namespace}.camera_node:=debug']
    env = dict(os.environ, **launch_config.node_environment({}),
               RCUTILS_CONSOLE_OUTPUT_FORMAT='[{severity}] [{time}] [{name}]: {message}')
    with open(folder / 'camera.log', 'w') as log:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)


def _process_cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) process `pid` has used, NaN when unknown."""
    try:
        with open(f'/proc/{pid}/stat') as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return float('nan')


def _camera_stage_times(log_path: Path, start_s: float, end_s: float) -> dict[str, float]:
    """Return the camera's mean ms per pair of each stage over its log lines inside the window."""
    from raiv_stereo.ros.stage_times import parse_log_line

    sums: dict[str, float] = {}
    pairs = 0.0
    try:
        lines = log_path.read_text(errors='replace').splitlines()
    except OSError:
        return {}
    for line in lines:
        snapshot = parse_log_line(line)
        parts = line.split('] [')
        if snapshot is None or len(parts) < 2:
            continue
        try:
            logged_s = float(parts[1])
        except ValueError:
            continue
        # Each line covers the ~2 s before it: keep the lines whose period lies in the window.
        if not start_s + 1.0 < logged_s <= end_s + 0.5:
            continue
        count = snapshot.pop('pairs', 0.0)
        pairs += count
        for name, mean_ms in snapshot.items():
            sums[name] = sums.get(name, 0.0) + mean_ms * count
    return {'pairs': pairs, **{name: total / pairs for name, total in sums.items()}} \
        if pairs else {}


def run_node_pipeline(seconds: float, rate_hz: float, encoding: str = 'bgr8',
                      scale: float = 0.5, min_depth_mm: float = 300.0,
                      max_depth_mm: float = 3000.0,
                      calibration: StereoCalibration | None = None,
                      camera_process: bool = False, replay_frames: int = 0,
                      depth_overrides: dict | None = None,
                      launch_overrides: dict | None = None) -> PipelineRun:
    """
    Run CameraNode (sample) -> DepthNode -> a depth subscriber over DDS, as launched.

    `calibration` (default: the RAiV nominal model) is what the camera renders and publishes;
    `camera_process` runs the camera node in its own process (as the launch files do) instead
    of this one; `replay_frames` > 0 has the camera replay that many pre-rendered pairs from
    memory instead of rendering each one. Both nodes get the launch files' parameters (reliable
    input QoS among them, `launch_overrides` as more launch arguments); `depth_overrides`
    changes depth node parameters on top.
    """
    from raiv_stereo.params import launch as launch_config
    from raiv_stereo.ros.camera_node import CameraNode
    from raiv_stereo.ros.conversions import age_ms, stamp_to_ns
    from raiv_stereo.ros.depth_node import DepthNode
    from raiv_stereo.ros.process_tuning import tune_process
    from raiv_stereo.ros.stage_times import stages_between
    from raiv_stereo.tools.demo import ensure_local_dds
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.task import Future
    from sensor_msgs.msg import CameraInfo, Image

    ensure_local_dds()
    namespace = f'bench_{os.getpid()}'
    launch_args = {'source': 'sample', 'scale': f'{scale:g}', 'rate_hz': f'{rate_hz:g}',
                   'min_depth_mm': f'{min_depth_mm:g}', 'max_depth_mm': f'{max_depth_mm:g}',
                   'namespace': namespace, **(launch_overrides or {})}
    camera_launch, depth_launch = launch_config.pipeline_parameters(launch_args)
    camera_params = dict(camera_launch, encoding=encoding, **{'sample.frames': replay_frames})
    folder = Path(tempfile.mkdtemp(prefix='raiv_bench_'))
    if calibration is not None:
        # The camera renders (and publishes CameraInfo of) the same distorted rig as section 1.
        for side, model in (('left', calibration.left), ('right', calibration.right)):
            path = folder / f'{side}.yaml'
            save_camera_info_yaml(path, model, f'bench_{side}')
            camera_params[f'{side}_calibration_file'] = str(path)
    depth_params = dict(depth_launch, **(depth_overrides or {}))
    run = PipelineRun(rate_hz, seconds, encoding)
    run.layout = 'two processes (launch default)' if camera_process else \
        'one process (composed:=true)'
    run.camera = f'replays {replay_frames} pairs' if replay_frames else 'renders each pair'
    lock = threading.Lock()
    tune_process(depth_worker=True)  # as the executables' main() does
    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []
    executor = None
    spinner = None
    stop = Future()
    camera_child = None
    try:
        def overrides(params: dict) -> list[Parameter]:
            return [Parameter(name, value=value) for name, value in params.items()]

        if camera_process:
            camera_child = _camera_process(camera_params, namespace, folder)
        else:
            nodes.append(CameraNode(namespace=namespace, context=context,
                                    parameter_overrides=overrides(camera_params)))
        depth_node = DepthNode(namespace=namespace, context=context,
                               parameter_overrides=overrides(depth_params))
        nodes.append(depth_node)
        monitor = rclpy.create_node('bench_monitor', namespace=namespace, context=context)
        nodes.append(monitor)

        def on_info(msg: CameraInfo) -> None:
            with lock:
                run.published += 1
                run.info_stamps_ns.append(stamp_to_ns(msg.header.stamp))

        def on_depth(msg: Image) -> None:
            latency_ms = age_ms(monitor.get_clock(), msg.header.stamp)
            with lock:
                run.received += 1
                run.latencies_ms.append(latency_ms)
                run.depth_stamps_ns.append(stamp_to_ns(msg.header.stamp))

        monitor.create_subscription(CameraInfo, 'left/camera_info', on_info, 10)
        monitor.create_subscription(Image, 'depth/image_rect', on_depth, 10)
        executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            executor.add_node(node)
        # Spun until `stop` is done: the executor is left idle before it is shut down (shutting
        # down a spinning executor raced with its guard condition: InvalidHandle in the thread).
        spinner = threading.Thread(target=executor.spin_until_future_complete, args=(stop,),
                                   daemon=True)
        spinner.start()
        # Wait past the replayed frames' first rendering, then start counting.
        deadline = time.monotonic() + 30.0
        while run.received < max(3, replay_frames) and time.monotonic() < deadline:
            time.sleep(0.05)
        if run.received < 3:
            raise RuntimeError('no depth image arrived within 30 s; is DDS working here?')
        with lock:
            run.received, run.published, run.latencies_ms = 0, 0, []
            run.info_stamps_ns, run.depth_stamps_ns = [], []
            before = depth_node.stats()
        _reset_peak_rss()
        run.load = load_average()
        camera_cpu0 = _process_cpu_s(camera_child.pid) if camera_child else float('nan')
        wall0, cpu0, epoch0 = time.monotonic(), time.process_time(), time.time()
        time.sleep(seconds)
        with lock:
            run.elapsed_s = time.monotonic() - wall0
            run.cpu_share = (time.process_time() - cpu0) / run.elapsed_s
            after = depth_node.stats()
            run.processing_ms = after.processing_ms_since(before)
            run.dropped = after.dropped_frames - before.dropped_frames
            run.depth_stages = stages_between(before.stage_ms, after.stage_ms)
            run.core_in_node_ms = run.depth_stages.get('core', float('nan'))
        if camera_child is not None:
            run.camera_cpu_share = (_process_cpu_s(camera_child.pid) - camera_cpu0) / \
                run.elapsed_s
            time.sleep(1.0)  # the camera's last stage line of the window
            run.camera_stages = _camera_stage_times(folder / 'camera.log', epoch0,
                                                    epoch0 + run.elapsed_s)
        run.peak_rss_mb = _peak_rss_mb()
    finally:
        if camera_child is not None:
            camera_child.terminate()
            try:
                camera_child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                camera_child.kill()
                camera_child.wait()
        if executor is not None:
            stop.set_result(True)
            if spinner is not None:
                spinner.join(timeout=10)
            executor.shutdown()
        for node in reversed(nodes):
            node.destroy_node()
        context.try_shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    return run


@dataclass(frozen=True)
class PipelineConfig:
    """One node pipeline run: the camera rate is a multiple of plain OpenCV's measured fps."""

    encoding: str
    rate_vs_opencv: float
    own_process: bool = False
    replay_frames: int = REPLAY_FRAMES
    sgbm_resolution: str = defaults.LAUNCH_SGBM_RESOLUTION


def pipeline_configs(quick: bool) -> list[PipelineConfig]:
    """
    Return the node pipeline runs.

    A camera at 1.0x plain OpenCV's frame rate asks the pipeline to keep up with it; at 1.3x
    the pipeline runs flat out (its fps is its capacity, extra pairs are dropped). The camera
    replays pairs from memory, as plain OpenCV's loop reads them; the last run renders each
    pair instead (the demo's camera), to show what that costs on the same cores. The first
    runs ask for 1.75x plain OpenCV's rate (issue 13's target) at each SGBM resolution.
    """
    if quick:
        return [PipelineConfig('bgr8', 1.3, own_process=True)]
    return [PipelineConfig('bgr8', 1.75, own_process=True),
            PipelineConfig('bgr8', 1.75, own_process=True, sgbm_resolution='half_rows'),
            PipelineConfig('bgr8', 1.75, own_process=True, sgbm_resolution='full'),
            PipelineConfig('bgr8', 1.0), PipelineConfig('bgr8', 1.3),
            PipelineConfig('mono8', 1.0), PipelineConfig('mono8', 1.3),
            PipelineConfig('bgr8', 1.0, own_process=True),
            PipelineConfig('bgr8', 1.3, own_process=True),
            PipelineConfig('mono8', 1.3, own_process=True),
            PipelineConfig('bgr8', 1.3, replay_frames=0)]


def bench_node_pipeline(calibration: StereoCalibration, pairs: list, args: argparse.Namespace,
                        log: Callable[[str], None]) -> list[dict]:
    """
    Run the node pipeline; plain OpenCV and our core are timed just before and after it.

    The machine may be shared: timing the alternatives around each run puts them under the
    same load.
    """
    settings = MatcherSettings()
    rows = []
    for config in pipeline_configs(args.quick):
        images = _as(config.encoding, pairs)
        opencv = PlainOpenCV(calibration, 0.5, settings, 3 if config.encoding == 'bgr8' else 1)
        core = StereoPipeline(calibration, 0.5, dataclasses.replace(
            settings, sgbm_resolution=config.sgbm_resolution))
        count = 4 if args.quick else 10
        before = time_interleaved({'opencv': opencv.process, 'ours': core.process}, images,
                                  count)
        rate_hz = round(config.rate_vs_opencv * before['opencv'].fps, 1)
        run = run_node_pipeline(args.seconds, rate_hz, config.encoding, calibration=calibration,
                                camera_process=config.own_process,
                                replay_frames=config.replay_frames,
                                depth_overrides={'sgbm_resolution': config.sgbm_resolution}
                                ).to_dict()
        after = time_interleaved({'opencv': opencv.process, 'ours': core.process}, images,
                                 count)
        for name in ('opencv', 'ours'):
            run[f'{name}_fps'] = 2000.0 / (before[name].median_ms + after[name].median_ms)
        run['rate_vs_opencv'] = config.rate_vs_opencv
        run['fps_vs_opencv'] = run['fps'] / run['opencv_fps']
        run['sgbm_resolution'] = config.sgbm_resolution
        run['latency_p90_periods'] = run['latency_p90_ms'] * rate_hz / 1000.0
        rows.append(run)
        log(f'  {config.encoding}, {run["layout"]}, sgbm_resolution {config.sgbm_resolution}, '
            f'camera {run["camera"]} at {rate_hz:g} Hz '
            f'({config.rate_vs_opencv:g}x OpenCV): {run["fps"]:.1f} fps = '
            f'{100 * run["fps_vs_opencv"]:.0f} % of plain OpenCV ({run["opencv_fps"]:.1f} fps), '
            f'latency {run["latency_median_ms"]:.0f} ms, load {run["load"]:.1f}')
    return rows


# --- 2b. per process and per stage at the launch default ----------------------------------------

STAGE_RATE_HZ = 30.0
"""The camera rate of the per-stage breakdown (the RAiV's, issue 22)."""
SUSTAINED_SHARE = 0.9
"""The second run's camera rate: this share of the depth rate the 30 Hz run sustained."""


def stage_configs(quick: bool = False) -> list[tuple[str, dict]]:
    """
    Return (label, launch arguments) of the per-stage runs.

    The launch default, the layout before camera_resolution, and the default with the next
    more accurate sgbm_resolution (what a change of default would cost).
    """
    if quick:
        return [('launch default', {})]
    return [('camera at full size (camera_resolution:=full, the layout before)',
             {'camera_resolution': 'full'}),
            ('launch default', {}),
            ('sgbm_resolution:=half_rows', {'sgbm_resolution': 'half_rows'})]


def bench_pipeline_stages(calibration: StereoCalibration, pairs: list,
                          args: argparse.Namespace, log: Callable[[str], None]) -> list[dict]:
    """
    Run the two-process launch layout at 30 Hz; return per process and per stage times.

    The camera node's stages come from its DEBUG log lines, the depth node's from its
    StageTimes; plain OpenCV and our core alone (on the images the depth node receives) are
    timed just before and after each run, so the ratios share the machine's load.
    """
    settings = MatcherSettings()
    images = _as('bgr8', pairs)
    opencv = PlainOpenCV(calibration, 0.5, settings, 3)
    rows = []
    for label, launch in stage_configs(args.quick):
        from raiv_stereo.params import launch as launch_config

        camera_launch, depth_launch = launch_config.pipeline_parameters(
            {'scale': '0.5', **launch})
        received = [tuple(cv2.resize(image, None, fx=camera_launch.get('scale', 1.0),
                                     fy=camera_launch.get('scale', 1.0),
                                     interpolation=cv2.INTER_AREA) for image in pair)
                    for pair in images] if camera_launch.get('scale', 1.0) != 1.0 else images
        core = StereoPipeline(calibration.scaled(camera_launch.get('scale', 1.0)),
                              depth_launch['scale'], dataclasses.replace(
                                  settings, sgbm_resolution=depth_launch['sgbm_resolution']))
        count = 4 if args.quick else 10

        def alone(core: StereoPipeline = core, received: list = received,
                  count: int = count) -> dict:
            opencv_t = time_interleaved({'opencv': opencv.process}, images, count)['opencv']
            core_t = time_interleaved({'ours': core.process}, received, count)['ours']
            return {'opencv': opencv_t, 'ours': core_t}

        before = alone()
        run = run_node_pipeline(args.seconds, STAGE_RATE_HZ, 'bgr8', calibration=calibration,
                                camera_process=True, replay_frames=REPLAY_FRAMES,
                                launch_overrides=launch)
        after = alone()
        row = run.to_dict()
        # Then the camera at the rate the pipeline sustained (90 % of it, rounded down to 0.5 Hz:
        # a camera at exactly the limit loses pairs to every hiccup): latency and losses there.
        sustained_fps = SUSTAINED_SHARE * row['fps']
        sustained_hz = min(STAGE_RATE_HZ, max(1.0, int(2.0 * sustained_fps) / 2.0))
        sustained_run = run_node_pipeline(args.seconds, sustained_hz, 'bgr8',
                                          calibration=calibration, camera_process=True,
                                          replay_frames=REPLAY_FRAMES, launch_overrides=launch)
        at_sustained = sustained_run.to_dict()
        last = alone()
        row['sustained'] = {
            'rate_hz': sustained_hz, 'fps': at_sustained['fps'],
            'camera_fps': at_sustained['camera_fps'],
            'latency_p90_periods': at_sustained['latency_p90_ms'] * sustained_hz / 1000.0,
            'lost_share': (1.0 - at_sustained['fps'] / at_sustained['camera_fps']
                           if at_sustained['camera_fps'] else 1.0),
            'core_vs_alone': sustained_run.core_in_node_ms / (
                (after['ours'].median_ms + last['ours'].median_ms) / 2.0)}
        for name in ('opencv', 'ours'):
            row[f'{name}_ms'] = (before[name].median_ms + after[name].median_ms) / 2.0
        row.update(label=label, launch=launch, camera_stages=run.camera_stages,
                   depth_stages=run.depth_stages, camera_cpu_share=run.camera_cpu_share,
                   core_in_node_ms=run.core_in_node_ms)
        row['opencv_fps'] = 1000.0 / row['opencv_ms']
        row['fps_vs_opencv'] = row['fps'] / row['opencv_fps']
        row['latency_p90_periods'] = row['latency_p90_ms'] * STAGE_RATE_HZ / 1000.0
        row['lost_share'] = 1.0 - row['fps'] / row['camera_fps'] if row['camera_fps'] else 1.0
        row['core_vs_alone'] = run.core_in_node_ms / row['ours_ms']
        row['camera_cpu_ms_per_pair'] = 1000.0 * run.camera_cpu_share / row['camera_fps'] \
            if row['camera_fps'] else float('nan')
        rows.append(row)
        log(f'  {label}: at {sustained_hz:g} Hz p90 latency '
            f'{row["sustained"]["latency_p90_periods"]:.2f} periods, lost '
            f'{100 * row["sustained"]["lost_share"]:.0f} %, core '
            f'{row["sustained"]["core_vs_alone"]:.2f}x alone')
        log(f'  {label}: camera {row["camera_fps"]:.1f} Hz, depth {row["fps"]:.1f} fps = '
            f'{row["fps_vs_opencv"]:.2f}x plain OpenCV ({row["opencv_fps"]:.1f} fps), p90 '
            f'latency {row["latency_p90_periods"]:.2f} periods, lost '
            f'{100 * row["lost_share"]:.0f} %, core {row["core_in_node_ms"]:.1f} ms in the node '
            f'vs {row["ours_ms"]:.1f} alone, camera CPU {row["camera_cpu_ms_per_pair"]:.1f} ms '
            f'per pair, load {row["load"]:.1f}')
    return rows


def stages_markdown(rows: list[dict]) -> list[str]:
    """Return section 2b: the per-process summary and the per-stage table, one column a run."""
    if not rows:
        return []
    head = '| | ' + ' | '.join(row['label'] for row in rows) + ' |'
    rule = '|---' * (len(rows) + 1) + '|'
    lines = [f'## 2b. Per process and per stage: two processes, camera at '
             f'{STAGE_RATE_HZ:g} Hz replaying 1600x1300 bgr8, launch arguments otherwise '
             'default (300-3000 mm, scale 0.5)', '',
             "Rates from the span of the messages' camera stamps. "
             'Mean ms per published pair (camera) and per processed pair (depth node); plain '
             'OpenCV reads the 1600x1300 pair, our core alone the images the depth node '
             'receives, both timed just before and after the run.', '', head, rule]

    def line(name: str, cells: list[str]) -> None:
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')

    line('depth fps / camera fps', [f'{_f(r["fps"])} / {_f(r["camera_fps"])}' for r in rows])
    line('depth fps vs plain OpenCV', [f'{_f(r["fps_vs_opencv"], 2)}x ({_f(r["opencv_fps"])} '
                                       'fps)' for r in rows])
    line('pairs lost (not turned into depth)', [f'{_f(100 * r["lost_share"], 0)} %'
                                                for r in rows])
    line('latency median / p90 ms', [f'{_f(r["latency_median_ms"], 0)} / '
                                     f'{_f(r["latency_p90_ms"], 0)}' for r in rows])
    line('p90 latency in frame periods', [_f(r['latency_p90_periods'], 2) for r in rows])
    line('core in the node / alone ms', [f'{_f(r["core_in_node_ms"])} / {_f(r["ours_ms"])} = '
                                         f'{_f(r["core_vs_alone"], 2)}x' for r in rows])
    line('camera process CPU %', [_f(100 * r['camera_cpu_share'], 0) for r in rows])
    line('camera process CPU ms per pair', [_f(r['camera_cpu_ms_per_pair']) for r in rows])
    line('depth process CPU % (depth node + monitor)',
         [_f(100 * r['cpu_share'], 0) for r in rows])
    line('load (1 min)', [_f(r['load']) for r in rows])
    line(f'camera at {100 * SUSTAINED_SHARE:.0f} % of the sustained rate: Hz asked, depth fps',
         [f'{r["sustained"]["rate_hz"]:g}, {_f(r["sustained"]["fps"])}' for r in rows])
    line('... there: p90 latency in frame periods, pairs lost, core in the node / alone',
         [f'{_f(r["sustained"]["latency_p90_periods"], 2)}, '
          f'{_f(100 * r["sustained"]["lost_share"], 0)} %, '
          f'{_f(r["sustained"]["core_vs_alone"], 2)}x' for r in rows])
    for process, key in (('camera node', 'camera_stages'), ('depth node', 'depth_stages')):
        names = list(dict.fromkeys(name for r in rows for name in r[key] if name != 'pairs'))
        line(f'**{process}** (pairs measured)', [_f(r[key].get('pairs', 0.0), 0)
                                                 for r in rows])
        for name in names:
            line(name, [_f(r[key].get(name, float('nan')), 2) for r in rows])
    return lines + ['']


# --- report -------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    """Return the machine the figures come from."""
    model = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return {'cpus': str(os.cpu_count()), 'cpu_model': model, 'opencv': cv2.__version__,
            'opencv_threads': str(cv2.getNumThreads()), 'python': platform.python_version(),
            'wls_available': str(hasattr(cv2, 'ximgproc'))}


def _f(value: float, digits: int = 1) -> str:
    return 'n/a' if value is None or not np.isfinite(value) else f'{value:.{digits}f}'


def markdown(report: dict) -> str:
    """Return the whole report as Markdown tables."""
    info = report['machine']
    lines = ['# raiv-stereo bench', '',
             f'Machine: {info["cpus"]} CPUs ({info["cpu_model"]}), OpenCV {info["opencv"]} '
             f'({info["opencv_threads"]} threads), Python {info["python"]}. Input: the sample '
             'scene rendered through a distorted, slightly misaligned RAiV rig (2.8 mm lens, '
             '65 mm baseline), 1600x1300. Plain OpenCV = remap at full size (maps from '
             'initUndistortRectifyMap) -> resize -> StereoSGBM on the input as it is (colour '
             'for bgr8, grey for mono8) -> f·B/d. Ours = StereoPipeline (grey, area-downscale '
             'then remap, SGBM on the edge-padded pair, normalised Lucas-Kanade sub-pixel steps); '
             "ours, SGBM sub-pixel = the same matcher with SGBM's own sub-pixel fit and the "
             'rectification order it had before the refinement (remap at full size, then '
             'area-downscale). CPU = process CPU time '
             '/ wall time (200 % = both cores). load = 1-minute load average when measured '
             '(other work on the machine; the two methods are timed frame by frame in turn so '
             'both see it alike).', '']
    if report.get('command'):
        lines += [f'Made by `{report["command"]}` (OpenCV {info["opencv"]}).', '']
    if report.get('configurations'):
        lines += summary_table(report['configurations'])
    if report.get('speed'):
        lines += ['## 1. Speed, same frames, one process', '',
                  '| scale | range mm | disp. | mode | input | OpenCV ms med/p90 | OpenCV fps '
                  '| ours ms med/p90 | ours fps | ours/OpenCV time '
                  '| ours, SGBM sub-pixel ms / fps '
                  '| SGBM sub-pixel/OpenCV time | CPU % OpenCV/ours | peak RSS MB OpenCV/ours '
                  '| load |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in report['speed']:
            o, u = row['opencv'], row['ours']
            lines.append(
                f'| {row["scale"]:g} | {row["min_depth_mm"]:g}-{row["max_depth_mm"]:g} | '
                f'{row["num_disparities"]} | {row["mode"]} | {row["encoding"]} | '
                f'{_f(o["median_ms"])}/{_f(o["p90_ms"])} | {_f(o["fps"])} | '
                f'{_f(u["median_ms"])}/{_f(u["p90_ms"])} | {_f(u["fps"])} | '
                f'{_f(row["ratio"], 2)} | {_f(row["ours_before"]["median_ms"])} / '
                f'{_f(row["ours_before"]["fps"])} | {_f(row["before_ratio"], 2)} | '
                f'{_f(100 * o["cpu_share"], 0)}/'
                f'{_f(100 * u["cpu_share"], 0)} | {_f(o["peak_rss_mb"], 0)}/'
                f'{_f(u["peak_rss_mb"], 0)} | {_f(row["load"])} |')
        lines.append('')
    if report.get('pipeline'):
        lines += ['## 2. Node pipeline over DDS (camera node -> depth node -> subscriber), '
                  '1600x1300 -> 0.5, 300-3000 mm, launch-file parameters', '',
                  '| layout | sgbm_resolution | input | camera | camera rate asked | camera fps '
                  '| depth fps | latency ms med/p90 | p90 latency / frame period '
                  '| depth node ms med/p90 | dropped | CPU % | peak RSS MB '
                  '| load | plain OpenCV fps / our core fps (same input, same minutes) '
                  '| pipeline / OpenCV fps |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in report['pipeline']:
            lines.append(
                f'| {row["layout"]} | {row["sgbm_resolution"]} | '
                f'{row["encoding"]} | {row["camera"]} | '
                f'{row["rate_hz"]:g} Hz ({row["rate_vs_opencv"]:g}x OpenCV) | '
                f'{_f(row["camera_fps"])} | {_f(row["fps"])} | '
                f'{_f(row["latency_median_ms"], 0)}/{_f(row["latency_p90_ms"], 0)} | '
                f'{_f(row["latency_p90_periods"], 2)} | '
                f'{_f(row["processing_median_ms"])}/{_f(row["processing_p90_ms"])} | '
                f'{row["dropped"]} | {_f(100 * row["cpu_share"], 0)} | '
                f'{_f(row["peak_rss_mb"], 0)} | {_f(row["load"])} | '
                f'{_f(row["opencv_fps"])} / {_f(row["ours_fps"])} | '
                f'{_f(100 * row.get("fps_vs_opencv", float("nan")), 0)} % |')
        lines.append('')
    lines += stages_markdown(report.get('pipeline_stages', []))
    synthetic = report.get('synthetic', [])
    if synthetic:
        lines += ['## 3a. Accuracy on the distorted synthetic rig (truth = exact scene depth; '
                  'pixels with truth in range, inside the valid window)', '',
                  '| scale | range mm | input | method | completeness % | within 1 % | '
                  'within 2 % | within 5 % | median err mm | bad-1 % | bad-2 % | bad-4 % |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in synthetic:
            for name, label in (('opencv', f'plain OpenCV ({row["encoding"]})'),
                                ('opencv_grey', 'plain OpenCV (grey)'),
                                ('ours_before', 'ours, SGBM sub-pixel (full-size remap)'),
                                ('ours', 'ours (area, remap, SGBM, refine)')):
                if name not in row:
                    continue
                a = row[name]
                lines.append(
                    f'| {row["scale"]:g} | {row["min_depth_mm"]:g}-{row["max_depth_mm"]:g} | '
                    f'{row["encoding"]} | {label} | {_f(100 * a["completeness"])} | '
                    f'{_f(100 * a["within_1pct"])} | {_f(100 * a["within_2pct"])} | '
                    f'{_f(100 * a["within_5pct"])} | {_f(a["median_error_mm"])} | '
                    f'{_f(a["bad-1"])} | {_f(a["bad-2"])} | {_f(a["bad-4"])} |')
        lines.append('')
    if report.get('family'):
        lines += family_table(report['family'])
    if report.get('datasets'):
        lines += ['## 3b. Accuracy on stereo_data (rectified pairs; bad-N % of known pixels, '
                  'missing = bad)', '',
                  '| scene | disp. | OpenCV colour bad-1/2/4 | density | ms '
                  '| OpenCV grey bad-1/2/4 | density | ours bad-1/2/4 | density | ms '
                  '| ours, SGBM sub-pixel bad-1/2/4 | ms |',
                  '|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in report['datasets']:
            cells = [row['scene'], str(row['num_disparities'])]
            for name, with_ms in (('opencv', True), ('opencv_grey', False), ('ours', True),
                                  ('ours_before', True)):
                r = row[name]
                cells.append(f'{_f(r["bad-1"])}/{_f(r["bad-2"])}/{_f(r["bad-4"])}')
                if name != 'ours_before':
                    cells.append(_f(r['density']))
                if with_ms:
                    cells.append(_f(r['ms'], 0))
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines += ['', 'WLS post-filter row: not measured, cv2.ximgproc is not available '
                  '(install opencv-contrib-python-headless, as the noros extra does).'
                  if info['wls_available'] != 'True' else '', '']
    if report.get('size'):
        lines += ['## 4a. Time vs input size (scale 0.5, 300-3000 mm, mono8, sgbm_3way)', '',
                  '| input | disp. | OpenCV ms | ours ms | ours/OpenCV |', '|---|---|---|---|---|']
        for row in report['size']:
            lines.append(f'| {row["input"]} | {row["num_disparities"]} | '
                         f'{_f(row["opencv"]["median_ms"])} | {_f(row["ours"]["median_ms"])} | '
                         f'{_f(row["ours"]["median_ms"] / row["opencv"]["median_ms"], 2)} |')
        lines.append('')
    if report.get('window'):
        lines += ['## 4b. Time vs search window (numDisparities; 1600x1300 -> 0.5, mono8, '
                  'sgbm_3way) - plot time_vs_window.png', '',
                  '| numDisparities | OpenCV ms | ours ms | ours match ms |', '|---|---|---|---|']
        for row in report['window']:
            lines.append(f'| {row["num_disparities"]} | {_f(row["opencv"]["median_ms"])} | '
                         f'{_f(row["ours"]["median_ms"])} | {_f(row["ours_match_ms"])} |')
        lines.append('')
    if report.get('stages'):
        lines += ['## 4c. Where the time goes (1600x1300 bgr8 -> 0.5, 300-3000 mm, ms median)',
                  '', '| stage | ms |', '|---|---|']
        for name, value in report['stages'].items():
            lines.append(f'| {name} | {_f(value, 2)} |')
        lines.append('')
    for note in report.get('notes', []):
        lines.append(f'- {note}')
    return '\n'.join(lines) + '\n'


def _short_scene(name: str) -> str:
    """Return 'kitti12 #1' for kitti2012/000001_10, else the scene's own name ('tsukuba')."""
    dataset, scene = name.split('/')
    if dataset.startswith('kitti'):
        return f'kitti{dataset[-2:]} #{int(scene.split("_")[0])}'
    return scene


def summary_table(rows: list[dict]) -> list[str]:
    """Return section 0: per configuration, time against plain OpenCV and every accuracy figure."""
    scenes = list(rows[0]['bad2']) if rows else []
    short = [_short_scene(name) for name in scenes]
    lines = ['## 0. Configurations: speed and accuracy in one table', '',
             'Rig: 1600x1300 bgr8 -> scale 0.5, 300-3000 mm, every configuration timed frame by '
             'frame in turn; time ratio against plain OpenCV with our SGBM settings; implied '
             'fps = 1000 / ms (one core process, no DDS); completeness and within 1/2 % of the '
             'true depth inside the valid window. bad-2 % (missing = bad) on each stereo_data '
             'scene at its own size; "below OpenCV" counts the scenes where it is below both '
             'plain OpenCV rows. Plot: pareto.png.', '',
             '| configuration | ms | time vs OpenCV | implied fps | complete % | within 1 % '
             '| within 2 % | ' + ' | '.join(f'bad-2 {name}' for name in short) +
             ' | mean bad-2 | below OpenCV |',
             '|---' * (9 + len(scenes)) + '|']
    for row in rows:
        lines.append(
            f'| {row["config"]} | {_f(row["ms"])} | {_f(row["ratio"], 2)} | {_f(row["fps"])} | '
            f'{_f(100 * row["completeness"])} | {_f(100 * row["within_1pct"])} | '
            f'{_f(100 * row["within_2pct"])} | ' +
            ' | '.join(_f(row['bad2'][name]) for name in scenes) +
            (' | ' if scenes else '') + f'{_f(row["mean_bad2"], 2)} | '
            f'{row["scenes_below_opencv"] if scenes else "n/a"}'
            f'{f" of {len(scenes)}" if scenes and row["kind"] == "ours" else ""} |')
    return lines + ['']


# --- plots (OpenCV drawing, no new dependency) --------------------------------------------------

_COLOURS = [(40, 40, 220), (200, 120, 20), (30, 160, 30), (150, 40, 150)]


def line_plot(path: Path, title: str, x_label: str, y_label: str,
              series: dict[str, tuple[list[float], list[float]]]) -> None:
    """Draw `series` (name -> (x, y)) as a line plot with axes and a legend into a PNG."""
    width, height, margin = 800, 520, 70
    image = np.full((height, width, 3), 255, np.uint8)
    xs = [x for values in series.values() for x, y in zip(*values, strict=True)
          if np.isfinite(y)]
    ys = [y for values in series.values() for y in values[1] if np.isfinite(y)]
    if not xs:
        xs, ys = [0.0, 1.0], [0.0, 1.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1.0
    y0, y1 = 0.0, max(ys) * 1.1 if max(ys) > 0 else 1.0

    def point(x: float, y: float) -> tuple[int, int]:
        return (int(margin + (x - x0) / (x1 - x0) * (width - 2 * margin)),
                int(height - margin - (y - y0) / (y1 - y0) * (height - 2 * margin)))

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(image, point(x0, y0), point(x1, y1), (0, 0, 0), 1)
    for i in range(6):
        x = x0 + (x1 - x0) * i / 5
        y = y0 + (y1 - y0) * i / 5
        px, _ = point(x, y0)
        _, py = point(x0, y)
        cv2.line(image, (px, height - margin), (px, height - margin + 5), (0, 0, 0), 1)
        cv2.putText(image, f'{x:.3g}', (px - 15, height - margin + 20), font, 0.4, (0, 0, 0), 1)
        cv2.line(image, (margin - 5, py), (margin, py), (0, 0, 0), 1)
        cv2.putText(image, f'{y:.3g}', (5, py + 4), font, 0.4, (0, 0, 0), 1)
    cv2.putText(image, title, (margin, 30), font, 0.6, (0, 0, 0), 1)
    cv2.putText(image, x_label, (width // 2 - 60, height - 20), font, 0.5, (0, 0, 0), 1)
    cv2.putText(image, y_label, (5, margin - 15), font, 0.5, (0, 0, 0), 1)
    for index, (x_values, y_values) in enumerate(series.values()):
        colour = _COLOURS[index % len(_COLOURS)]
        points = [point(x, y) for x, y in zip(x_values, y_values, strict=True)
                  if np.isfinite(y)]
        for a, b in itertools.pairwise(points):
            cv2.line(image, a, b, colour, 2, cv2.LINE_AA)
        for p in points:
            cv2.circle(image, p, 4, colour, -1, cv2.LINE_AA)
    # The legend below the axes, never over the lines: one entry per series with its colour.
    legend = np.full((20 * len(series) + 10, width, 3), 255, np.uint8)
    for index, name in enumerate(series):
        colour = _COLOURS[index % len(_COLOURS)]
        y = 20 * index + 14
        cv2.line(legend, (margin, y - 4), (margin + 30, y - 4), colour, 2, cv2.LINE_AA)
        cv2.circle(legend, (margin + 15, y - 4), 4, colour, -1, cv2.LINE_AA)
        cv2.putText(legend, name, (margin + 40, y), font, 0.5, colour, 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack([image, legend]))


def pareto_plot(path: Path, rows: list[dict]) -> None:
    """
    Draw time against accuracy per configuration, the better-in-both front joined (pareto.png).

    Left: mean bad-2 on stereo_data (lower is better); right: within 1 % on the rig (higher).
    """
    panel_w, height, margin = 560, 520, 70
    # One panel per measured accuracy: without stereo_data there is no bad-2, and no empty half.
    panels = [(key, label, lower_better, scale) for key, label, lower_better, scale in (
        ('mean_bad2', 'mean bad-2 % (stereo_data)', True, 1.0),
        ('within_1pct', 'within 1 % of true depth (rig) %', False, 100.0))
        if rows and all(np.isfinite(row[key]) for row in rows)]
    image = np.full((height, max(len(panels), 1) * panel_w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, 'Time per pair (rig, 1600x1300 -> 0.5) vs accuracy; front joined',
                (margin, 25), font, 0.5, (0, 0, 0), 1)
    if not panels:
        cv2.putText(image, 'no accuracy measured', (margin, height // 2), font, 0.6,
                    (0, 0, 0), 1)
    times = [row['ms'] for row in rows]
    for panel, (key, label, lower_better, scale) in enumerate(panels):
        values = [row[key] * scale for row in rows]
        left = panel * panel_w
        x0, x1 = 0.0, max(times) * 1.1
        y0, y1 = 0.0, max(values) * 1.15

        def point(x: float, y: float, left: int = left, x1: float = x1,
                  y1: float = y1) -> tuple[int, int]:
            return (int(left + margin + x / x1 * (panel_w - 2 * margin)),
                    int(height - margin - y / y1 * (height - 2 * margin)))

        cv2.rectangle(image, point(x0, y0), point(x1, y1), (0, 0, 0), 1)
        for i in range(6):
            px, _ = point(x1 * i / 5, 0)
            _, py = point(0, y1 * i / 5)
            cv2.putText(image, f'{x1 * i / 5:.0f}', (px - 10, height - margin + 18), font, 0.4,
                        (0, 0, 0), 1)
            cv2.putText(image, f'{y1 * i / 5:.0f}', (left + 30, py + 4), font, 0.4, (0, 0, 0), 1)
        cv2.putText(image, 'ms per pair', (left + panel_w // 2 - 40, height - 25), font, 0.5,
                    (0, 0, 0), 1)
        cv2.putText(image, label, (left + margin, margin - 15), font, 0.5, (0, 0, 0), 1)
        better = (lambda a, b: a <= b) if lower_better else (lambda a, b: a >= b)
        front = sorted((t, v) for t, v in zip(times, values, strict=True)
                       if not any(t2 <= t and better(v2, v) and (t2, v2) != (t, v)
                                  for t2, v2 in zip(times, values, strict=True)))
        for a, b in itertools.pairwise(front):
            cv2.line(image, point(*a), point(*b), (160, 160, 160), 2, cv2.LINE_AA)
        for index, (row, t, v) in enumerate(zip(rows, times, values, strict=True)):
            colour = (40, 40, 220) if row['kind'] == 'opencv' else _COLOURS[1 + index % 3]
            cv2.circle(image, point(t, v), 5, colour, -1, cv2.LINE_AA)
            x, y = point(t, v)
            cv2.putText(image, str(index + 1), (x + 7, y - 5), font, 0.45, colour, 1)
    legend = np.full((18 * len(rows) + 10, image.shape[1], 3), 255, np.uint8)
    for index, row in enumerate(rows):
        cv2.putText(legend, f'{index + 1}: {row["config"]}', (margin, 18 * index + 16), font, 0.45,
                    (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack([image, legend]))


def write_plots(report: dict, out: Path) -> list[Path]:
    """Write pareto.png, time_vs_window.png and error_vs_depth.png from the report."""
    files = []
    if report.get('configurations'):
        path = out / 'pareto.png'
        pareto_plot(path, report['configurations'])
        files.append(path)
    if report.get('window'):
        windows = [row['num_disparities'] for row in report['window']]
        path = out / 'time_vs_window.png'
        line_plot(path, 'Time per frame vs search window (1600x1300 -> 0.5, mono8)',
                  'numDisparities', 'ms per frame', {
                      'plain OpenCV (total)': (windows, [r['opencv']['median_ms']
                                                         for r in report['window']]),
                      'ours (total)': (windows, [r['ours']['median_ms']
                                                 for r in report['window']]),
                      'ours (match only)': (windows, [r['ours_match_ms']
                                                      for r in report['window']])})
        files.append(path)
    if report.get('synthetic'):
        row = report['synthetic'][0]
        centres = row['bin_centres_m']
        path = out / 'error_vs_depth.png'
        line_plot(path, f'Median depth error vs depth (synthetic rig, scale {row["scale"]:g})',
                  'true depth (m)', 'median |error| %', {
                      'plain OpenCV': (centres, row['opencv']['median_error_pct_by_bin']),
                      'ours': (centres, row['ours']['median_error_pct_by_bin']),
                      **({'plain OpenCV (grey)': (
                          centres, row['opencv_grey']['median_error_pct_by_bin'])}
                         if 'opencv_grey' in row else {})})
        files.append(path)
    return files


# --- the command --------------------------------------------------------------------------------

def run_bench(args: argparse.Namespace, log: Callable[[str], None] = print,
              report: dict | None = None) -> dict:
    """
    Run every measurement the options ask for into `report` (plain data) and return it.

    Sections are filled in as they finish, so an interrupted run leaves the finished ones.
    """
    report = {} if report is None else report
    report.update({'machine': machine(), 'quick': bool(args.quick), 'notes': []})
    frames = args.frames or (3 if args.quick else 12)
    seeds = FAMILY_SEEDS[:max(1, args.family_seeds)] if args.family_seeds <= len(
        FAMILY_SEEDS) else tuple(range(FAMILY_SEEDS[0], FAMILY_SEEDS[0] + args.family_seeds))
    if args.family_only:
        log('3c. evaluation family')
        report['family'] = bench_family(seeds, log)
        return report
    calibration = rig()
    log('rendering frames ...')
    pairs = render_frames(calibration, 2 if args.quick else 4)
    if getattr(args, 'stages_only', False):
        log('2b. per process and per stage at 30 Hz')
        report['pipeline_stages'] = bench_pipeline_stages(calibration, pairs, args, log)
        return report

    log('0. configurations: speed and accuracy')
    report['configurations'] = bench_configurations(calibration, frames, log, args.quick)

    log('1. speed')
    report['speed'] = bench_speed(calibration, pairs, speed_configs(args.quick, args.hh),
                                  frames, log)

    if not args.no_ros:
        log('2. node pipeline over DDS')
        report['pipeline'] = bench_node_pipeline(calibration, pairs, args, log)
        log('2b. per process and per stage at 30 Hz')
        report['pipeline_stages'] = bench_pipeline_stages(calibration, pairs, args, log)

    log('3. accuracy')
    report['synthetic'] = [synthetic_accuracy(calibration, 0.5, 300.0, 3000.0,
                                              2 if args.quick else 3)]
    if not args.quick:
        report['synthetic'].append(synthetic_accuracy(calibration, 0.5, 300.0, 600.0, 3))
        report['synthetic'].append(synthetic_accuracy(calibration, 1.0, 300.0, 3000.0, 2))
        report['datasets'] = dataset_accuracy(log)
    log('3c. evaluation family')
    report['family'] = bench_family(seeds[:2] if args.quick else seeds, log)

    log('4. scaling')
    if args.quick:
        report['window'] = bench_window(calibration, pairs, [16, 64], 2)
    else:
        report['size'] = bench_input_size([(800, 650), (1200, 975), (1600, 1300),
                                           (2400, 1950)], 6, 0.5)
        report['window'] = bench_window(calibration, pairs, [16, 32, 64, 96, 128, 192, 256],
                                        6)
        report['stages'] = bench_stages(calibration, pairs, frames)
    return report


def write_report(report: dict, out: Path) -> list[Path]:
    """Write bench.md, bench.json and the plots into `out`; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    files = write_plots(report, out)
    (out / 'bench.md').write_text(markdown(report))
    (out / 'bench.json').write_text(json.dumps(report, indent=1, default=float))
    return [*files, out / 'bench.md', out / 'bench.json']


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the Markdown table and where the files went (Ctrl-C: so far)."""
    from raiv_stereo.tools.cli import CommandError, domain_id_from_env, output_folder

    try:  # before the run: a folder that cannot take the results would lose them at the end
        if not args.no_ros:
            domain_id_from_env()
        output_folder(args.out)
    except CommandError as error:
        print(f'raiv-stereo bench: error: {error}', file=sys.stderr)
        return 1
    report: dict = {'command': shlex.join(['raiv-stereo', *sys.argv[1:]])}
    interrupted = False
    try:
        run_bench(args, log=lambda text: print(text, flush=True), report=report)
    except KeyboardInterrupt:
        interrupted = True
        report.setdefault('notes', []).append(
            'INTERRUPTED (Ctrl-C): only the sections finished before it are here.')
    files = write_report(report, Path(args.out))
    print(markdown(report))
    for path in files:
        print(f'wrote {path}')
    return 130 if interrupted else 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the `bench` subcommand."""
    parser = subparsers.add_parser(
        'bench', help='benchmark the core and the node pipeline against plain OpenCV',
        description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='bench_results', help='folder for bench.md and plots')
    parser.add_argument('--quick', action='store_true',
                        help='smallest subset: one configuration, few frames')
    parser.add_argument('--frames', type=int, default=0, help='frames per configuration')
    parser.add_argument('--hh', action='store_true',
                        help="also time SGBM mode 'hh' at scale 1.0 (very slow)")
    parser.add_argument('--no-ros', action='store_true', help='skip the DDS node pipeline')
    parser.add_argument('--family-only', action='store_true',
                        help='only the evaluation family section (a few minutes)')
    parser.add_argument('--family-seeds', type=int, default=len(FAMILY_SEEDS),
                        help='held-out family scenes to evaluate (from seed 1000)')
    parser.add_argument('--stages-only', action='store_true',
                        help='only section 2b: per process and per stage at 30 Hz')
    parser.add_argument('--seconds', type=float, default=8.0,
                        help='measurement time of each node pipeline run (s)')
    parser.set_defaults(func=run)
