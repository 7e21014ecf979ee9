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

"""Freed image buffers stay mapped: a camera node and its subscriber do not fault per image."""

from __future__ import annotations

import subprocess
import sys

import cv2
from helpers import PACKAGE_ROOT, textured_pair

# A camera node publishing 1600x1300 bgr8 pairs from files to a subscriber in its own process,
# as a driver with a subscriber does; prints the minor page faults per received image.
SCRIPT = """
import resource, sys, threading, time
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from raiv_stereo.ros import process_tuning
if sys.argv[2] == 'tuned':
    process_tuning.tune_process(depth_worker=False)  # as camera_node's main() does
from raiv_stereo.ros.camera_node import CameraNode
rclpy.init()
camera = CameraNode(namespace='memory_check', parameter_overrides=[
    Parameter('source', value='images'), Parameter('images.left', value=sys.argv[1] + '/l_*'),
    Parameter('images.right', value=sys.argv[1] + '/r_*'), Parameter('rate_hz', value=20.0)])
node = rclpy.create_node('subscriber', namespace='memory_check')
received = []  # one entry per image; the message itself is let go, as a driver's user does
for side in ('left', 'right'):
    node.create_subscription(Image, side + '/image_raw', lambda msg: received.append(1),
                             QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
executor = SingleThreadedExecutor()
executor.add_node(camera)
executor.add_node(node)
threading.Thread(target=executor.spin, daemon=True).start()
def wait_for_images(count, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.001)
    return len(received)
warm = wait_for_images(10)  # the first images map the buffers once
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
count = wait_for_images(warm + 30) - warm
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(count, faults / max(count, 1), flush=True)
executor.shutdown()
"""


def _faults_per_image(folder, mode: str) -> tuple[int, float]:
    result = subprocess.run([sys.executable, '-c', SCRIPT, str(folder), mode], cwd=PACKAGE_ROOT,
                            capture_output=True, text=True, timeout=60)
    count, faults = result.stdout.split()[:2]
    return int(count), float(faults)


def test_published_and_received_images_reuse_freed_memory(tmp_path):
    for index in range(2):
        for side, image in zip(('l', 'r'), textured_pair(1300, 1600, seed=3 + index),
                               strict=True):
            cv2.imwrite(str(tmp_path / f'{side}_{index}.bmp'), image)
    images, tuned = _faults_per_image(tmp_path, 'tuned')
    _, untuned = _faults_per_image(tmp_path, 'untuned')
    print(f'\nminor page faults per 6.2 MB image: {tuned:.0f} tuned, {untuned:.0f} untuned')
    # Counted over 30 images after the first 10 (the count can overshoot by a callback).
    assert images >= 30
    # A 6.2 MB image is 1,524 pages; glibc's default trimming faults most of them in again.
    assert tuned < 100
    assert untuned > 1000
