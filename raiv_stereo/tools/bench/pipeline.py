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

"""Bench section 2: the camera and depth nodes through DDS, per process and per stage."""

from __future__ import annotations

import argparse
from collections.abc import Callable
import dataclasses
from dataclasses import dataclass, field

import cv2
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.core.matching.sgbm import MatcherSettings
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.eval.metrics import percentile
from raiv_stereo.params import depth as depth_params, launch as launch_config
from raiv_stereo.tools.bench.baseline import PlainOpenCV
from raiv_stereo.tools.bench.timing import as_encoding, time_interleaved


REPLAY_FRAMES = 8
"""Pairs the bench camera replays from memory (100 MB at 1600x1300 bgr8)."""


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


@dataclass(frozen=True)
class PipelineConfig:
    """One node pipeline run: the camera rate is a multiple of plain OpenCV's measured fps."""

    encoding: str
    rate_vs_opencv: float
    own_process: bool = False
    replay_frames: int = REPLAY_FRAMES
    sgbm_resolution: str = depth_params.BY_NAME['sgbm_resolution'].default


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
                        log: Callable[[str], None],
                        run_node_pipeline: Callable[..., PipelineRun]) -> list[dict]:
    """
    Run the node pipeline; plain OpenCV and our core are timed just before and after it.

    `run_node_pipeline` is ros.bench_runs' (passed in: the tools import no ROS).

    The machine may be shared: timing the alternatives around each run puts them under the
    same load.
    """
    settings = MatcherSettings()
    rows = []
    for config in pipeline_configs(args.quick):
        images = as_encoding(config.encoding, pairs)
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
                          args: argparse.Namespace, log: Callable[[str], None],
                          run_node_pipeline: Callable[..., PipelineRun]) -> list[dict]:
    """
    Run the two-process launch layout at 30 Hz; return per process and per stage times.

    `run_node_pipeline` is ros.bench_runs' (passed in: the tools import no ROS).

    The camera node's stages come from its DEBUG log lines, the depth node's from its
    StageTimes; plain OpenCV and our core alone (on the images the depth node receives) are
    timed just before and after each run, so the ratios share the machine's load.
    """
    settings = MatcherSettings()
    images = as_encoding('bgr8', pairs)
    opencv = PlainOpenCV(calibration, 0.5, settings, 3)
    rows = []
    for label, launch in stage_configs(args.quick):
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
