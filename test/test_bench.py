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

"""`raiv-stereo bench --quick`: the report's structure and real, plausible figures (not timed)."""

import json
import math

import numpy as np
import pytest
from raiv_stereo.core.matching.sgbm import MatcherSettings
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.tools.bench import run_bench
from raiv_stereo.tools.bench.baseline import PlainOpenCV
from raiv_stereo.tools.bench.report import markdown, write_report
from raiv_stereo.tools.bench.timing import rig
from raiv_stereo.tools.cli import build_parser


def _finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def test_plain_opencv_and_core_agree_on_the_rig():
    calibration = rig(400, 325)
    settings = MatcherSettings()
    opencv = PlainOpenCV(calibration, 1.0, settings, 1)
    core = StereoPipeline(calibration, 1.0, settings)
    # Same range, same focal length at the working size -> the same SGBM search window.
    assert (opencv.min_disparity, opencv.num_disparities) == \
        (core.matcher.min_disparity, core.matcher.num_disparities)
    assert opencv.output_size == core.working.image_size
    assert math.isclose(opencv.focal_px, core.working.focal_px, rel_tol=1e-9)


def test_quick_bench_reports_real_numbers(tmp_path):
    args = build_parser().parse_args(['bench', '--quick', '--out', str(tmp_path),
                                      '--seconds', '2'])
    report = run_bench(args, log=lambda text: None)

    assert report['machine']['cpus'].isdigit()
    (speed,) = report['speed']
    assert (speed['scale'], speed['min_depth_mm'], speed['max_depth_mm']) == (0.5, 300.0, 3000.0)
    assert speed['num_disparities'] % 16 == 0
    for name in ('opencv', 'ours'):
        figures = speed[name]
        assert 1.0 < figures['median_ms'] <= figures['p90_ms'] < 5000.0
        assert figures['fps'] == pytest.approx(1000.0 / figures['median_ms'])
        # CPU time over wall time: no more than every core busy the whole time.
        assert 0.1 < figures['cpu_share'] <= 1.05 * int(report['machine']['cpus'])
        assert 50.0 < figures['peak_rss_mb'] < 8000.0
    # The ratios are ours over plain OpenCV, from the same interleaved frames (not inverted).
    assert speed['ratio'] == pytest.approx(
        speed['ours']['median_ms'] / speed['opencv']['median_ms'])
    assert speed['before_ratio'] == pytest.approx(
        speed['ours_before']['median_ms'] / speed['opencv']['median_ms'])

    (pipeline,) = report['pipeline']
    assert pipeline['received'] > 0 and pipeline['fps'] > 0.5
    assert 0.0 < pipeline['latency_median_ms'] <= pipeline['latency_p90_ms'] < 10000.0
    # A depth image leaves the node after its processing: its age then is at least that long.
    assert 0.0 < pipeline['processing_median_ms'] <= pipeline['latency_median_ms']
    assert pipeline['fps_vs_opencv'] == pytest.approx(pipeline['fps'] / pipeline['opencv_fps'])

    # 2b: per process and per stage, the camera node's stages from its own process's log.
    (stages,) = report['pipeline_stages']
    assert stages['fps'] > 0.5 and stages['camera_fps'] > stages['fps'] * 0.5
    camera, depth = stages['camera_stages'], stages['depth_stages']
    assert camera['pairs'] > 0 and camera['publish image'] > 0.0
    assert 0.0 < camera['resize and convert'] < 1000.0
    assert depth['pairs'] > 0 and 0.0 < depth['core: match'] <= depth['core']
    assert depth['convert (messages to numpy)'] < depth['core']
    assert stages['camera_cpu_ms_per_pair'] == pytest.approx(
        1000.0 * stages['camera_cpu_share'] / stages['camera_fps'])
    assert stages['core_vs_alone'] == pytest.approx(stages['core_in_node_ms'] / stages['ours_ms'])
    assert stages['latency_p90_periods'] == pytest.approx(stages['latency_p90_ms'] * 30.0 / 1000.0)
    assert stages['sustained']['fps'] > 0.5
    assert '## 2b. Per process and per stage' in markdown(report)

    (synthetic,) = report['synthetic']
    for name in ('opencv', 'ours'):
        accuracy = synthetic[name]
        # The sample scene is textured everywhere: both methods find most of it, within 5 %.
        assert 0.85 < accuracy['completeness'] <= 1.0
        assert accuracy['within_1pct'] <= accuracy['within_2pct'] <= accuracy['within_5pct']
        assert 0.8 < accuracy['within_5pct'] <= accuracy['completeness']
        assert 0.0 <= accuracy['bad-4'] <= accuracy['bad-2'] <= accuracy['bad-1'] < 30.0
        assert 85.0 < accuracy['density'] <= 100.0
        errors = np.array(accuracy['median_error_pct_by_bin'], dtype=float)
        assert np.isfinite(errors).any() and np.nanmax(errors) < 10.0

    windows = [row['num_disparities'] for row in report['window']]
    assert windows == sorted(windows) and len(windows) >= 2
    for row in report['window']:
        assert 0.0 < row['ours_match_ms'] <= row['ours']['median_ms'] * 1.5

    family = report['family']
    assert family['seeds'] == [1000, 1001] and len(family['rows']) == 3
    for row in family['rows']:
        assert 0.3 < row['mean']['within_2pct'] <= 1.0 and row['worst']['within_2pct'] <= \
            row['mean']['within_2pct']
        assert _finite(row['ratio']) and '2.6-3 m' in row['bands']
    assert family['rows'][0]['ratio'] == 1.0  # plain OpenCV is the time reference

    write_report(report, tmp_path)
    saved = json.loads((tmp_path / 'bench.json').read_text())
    assert saved['speed'][0]['num_disparities'] == speed['num_disparities']
    table = (tmp_path / 'bench.md').read_text()
    assert '| 0.5 | 300-3000 |' in table and 'ours/OpenCV' in table
    assert '## 3c. Evaluation family' in table and 'locking spread' in table
    for plot in ('time_vs_window.png', 'error_vs_depth.png'):
        assert (tmp_path / plot).stat().st_size > 1000


def test_family_only_option_runs_just_the_family_on_held_out_seeds(tmp_path):
    args = build_parser().parse_args(['bench', '--family-only', '--family-seeds', '1',
                                      '--out', str(tmp_path)])
    report = run_bench(args, log=lambda text: None)
    assert 'speed' not in report and 'configurations' not in report
    assert report['family']['seeds'] == [1000]
    (first, *_) = report['family']['rows']
    assert first['ratio'] == 1.0  # plain OpenCV is the time reference
