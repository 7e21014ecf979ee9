"""`raiv-stereo view` headless: snapshots of the live colour depth with the centre depth in mm."""

import re
import subprocess
import sys
import threading

import cv2
import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter

from raiv_stereo.ros.camera_node import CameraNode
from raiv_stereo.ros.depth_node import DepthNode
from raiv_stereo.viewer import depth_at_mm


def test_depth_at_mm_reads_metres_as_millimetres():
    depth = np.array([[1.25, np.nan]], np.float32)
    assert depth_at_mm(depth, 0, 0) == 1250.0
    assert depth_at_mm(depth, 1, 0) is None and depth_at_mm(depth, 5, 0) is None


def test_headless_viewer_writes_snapshots_of_the_live_depth(tmp_path):
    context = Context()
    rclpy.init(context=context)
    nodes = [
        CameraNode(context=context, namespace='view_test', parameter_overrides=[
            Parameter('source', value='sample'), Parameter('scale', value=0.5),
            Parameter('rate_hz', value=5.0)]),
        DepthNode(context=context, namespace='view_test', parameter_overrides=[
            Parameter('scale', value=1.0)]),
    ]
    executor = SingleThreadedExecutor(context=context)
    for node in nodes:
        executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        result = subprocess.run(
            [sys.executable, '-m', 'raiv_stereo.cli', 'view', '--namespace', 'view_test',
             '--snapshots', '--out', str(tmp_path), '--interval-s', '0.5', '--seconds', '8'],
            capture_output=True, text=True, timeout=60)
    finally:
        executor.shutdown()
        spinner.join(timeout=5.0)
        for node in nodes:
            node.destroy_node()
        rclpy.shutdown(context=context)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    snapshots = sorted(tmp_path.glob('depth_*.png'))
    assert snapshots, output
    picture = cv2.imread(str(snapshots[-1]))
    assert picture.shape == (650, 800, 3)
    # The image centre sees the moving box (1.0 m) or the back wall (2.8 m) of the sample scene.
    centre_mm = [float(v) for v in re.findall(r'centre depth: ([\d.]+) mm', output)]
    assert centre_mm, output
    assert any(abs(v - 1000) < 30 or abs(v - 2800) < 90 for v in centre_mm), centre_mm
