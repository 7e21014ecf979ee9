"""The main job end to end: `raiv-stereo demo` through real nodes and DDS, measured accuracy."""

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from raiv_stereo.demo import DepthAccuracy, side_by_side


def test_depth_accuracy_counts_what_it_should():
    truth = np.full((4, 5), 2.0, np.float32)
    truth[0, 0] = np.nan  # unknown truth is not judged
    depth = truth.copy()
    depth[1, :] = 2.03  # 1.5 % off
    depth[2, 0] = np.nan  # a hole
    accuracy = DepthAccuracy.measure(depth, truth, 0.3, 3.0)
    judged = 19
    assert accuracy.completeness == pytest.approx(18 / judged)
    assert accuracy.within_1pct == pytest.approx(13 / judged)
    assert accuracy.within_2pct == pytest.approx(18 / judged)
    assert accuracy.median_error_mm == pytest.approx(0.0)


def test_side_by_side_has_a_scale_bar():
    left = np.zeros((65, 80), np.uint8)
    color = np.zeros((65, 80, 3), np.uint8)
    picture = side_by_side(left, color, 0.3, 3.0)
    assert picture.shape[0] == 65 and picture.shape[1] > 160 and picture.shape[2] == 3


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_measures_depth(tmp_path):
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.cli', 'demo', '--seconds', '4',
         '--out', str(tmp_path), '--evaluate-frames', '3'],
        capture_output=True, text=True, timeout=180, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    fps = float(re.search(r'= ([\d.]+) fps', output).group(1))
    assert fps > 1.0, output
    within_5 = float(re.search(r'within 5 % ([\d.]+) %', output).group(1))
    completeness = float(re.search(r'completeness ([\d.]+) %', output).group(1))
    # The sample scene is textured everywhere: most of it must come back within 5 %.
    assert completeness > 85.0 and within_5 > 80.0, output
    picture = cv2.imread(str(tmp_path / 'side_by_side.png'))
    assert picture is not None and picture.shape[0] == 650, output
    assert cv2.imread(str(tmp_path / 'depth_color.png')).shape[:2] == (650, 800)
