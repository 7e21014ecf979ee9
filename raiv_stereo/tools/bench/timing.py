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

"""Timing of the core beside plain OpenCV: frames, speed, input size, window size, stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import os
import resource
import time

import cv2
import numpy as np
from raiv_stereo.core import rig as raiv_rig
from raiv_stereo.core.calibration import raiv_nominal, StereoCalibration
from raiv_stereo.core.matching.sgbm import MatcherSettings
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.eval.scene import distorted_rig, Renderer
from raiv_stereo.tools.bench.baseline import PlainOpenCV, previous_default


RANGES_MM = ((300.0, 3000.0), (300.0, 600.0))


SCALES = (0.5, 1.0)


ENCODINGS = ('bgr8', 'mono8')


MODES = ('sgbm_3way', 'sgbm')


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0) so each run gets its own peak."""
    try:
        with open('/proc/self/clear_refs', 'w') as handle:
            handle.write('5')
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
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
            reset_peak_rss()
            cpu0, started = time.process_time(), time.perf_counter()
            process(*frames[index % len(frames)])
            times_ms[name].append((time.perf_counter() - started) * 1000.0)
            cpu_s[name] += time.process_time() - cpu0
            peak_mb[name] = max(peak_mb[name], peak_rss_mb())
    return {name: Timing(times_ms[name], cpu_s[name] / (sum(times_ms[name]) / 1000.0),
                         peak_mb[name]) for name in processes}


def load_average() -> float:
    """Return the 1-minute load average (other work on the machine skews every figure)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float('nan')


def rig(width_px: int = raiv_rig.SENSOR_WIDTH_PX,
        height_px: int = raiv_rig.SENSOR_HEIGHT_PX) -> StereoCalibration:
    """Return the distorted, slightly misaligned RAiV rig the synthetic frames come from."""
    return distorted_rig(raiv_nominal(width_px=width_px, height_px=height_px))


def render_frames(calibration: StereoCalibration, count: int,
                  with_truth: bool = False) -> list:
    """Return `count` RenderedPairs of the sample scene at different times."""
    renderer = Renderer(calibration)
    return [renderer.render(0.37 * index, with_truth=with_truth) for index in range(count)]


def as_encoding(encoding: str, pairs: list) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the (left, right) raw images of `pairs` in `encoding`."""
    if encoding == 'mono8':
        return [(cv2.cvtColor(p.left_bgr, cv2.COLOR_BGR2GRAY),
                 cv2.cvtColor(p.right_bgr, cv2.COLOR_BGR2GRAY)) for p in pairs]
    return [(p.left_bgr, p.right_bgr) for p in pairs]


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
        images = as_encoding(config['encoding'], pairs)
        channels = 3 if config['encoding'] == 'bgr8' else 1
        count = _frame_count(frames, config['scale'], config['mode'])
        opencv = PlainOpenCV(calibration, config['scale'], settings, channels)
        ours = StereoPipeline(calibration, config['scale'], settings)
        before = previous_default(calibration, config['scale'], settings)
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


def _config_label(config: dict) -> str:
    return (f'scale {config["scale"]:g}, {config["min_depth_mm"]:g}-'
            f'{config["max_depth_mm"]:g} mm, {config["mode"]}, {config["encoding"]}')


def bench_input_size(sizes: list[tuple[int, int]], frames: int, scale: float) -> list[dict]:
    """Time ours and plain OpenCV (mono8, 300-3000 mm) for several sensor sizes at `scale`."""
    rows = []
    settings = MatcherSettings()
    for width_px, height_px in sizes:
        calibration = rig(width_px, height_px)
        images = as_encoding('mono8', render_frames(calibration, 2))
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
    images = as_encoding('mono8', pairs)
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


def bench_stages(calibration: StereoCalibration, pairs: list, frames: int,
                 node_stage_times: Callable[..., dict[str, float]]) -> dict:
    """
    Return where the time of one bgr8 frame at scale 0.5, 300-3000 mm goes (ms, medians).

    Core stages from the pipeline's own timings; message conversion and publish measured here
    with real rclpy publishers (a subscriber present, so DDS does serialize and deliver) by
    `node_stage_times`, ros.bench_runs' (passed in: the tools import no ROS).
    """
    settings = MatcherSettings()
    core = StereoPipeline(calibration, 0.5, settings)
    images = as_encoding('bgr8', pairs)
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

    stages.update(node_stage_times(core, images[0], frames))
    return stages
