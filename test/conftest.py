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

"""Test setup: keep DDS on this host and give every test run its own ROS domain."""

import os
import random

# Set before rclpy is imported anywhere: rcl reads these at init.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
if 'RAIV_TEST_DOMAIN_ID' not in os.environ:
    # One domain per pytest run (0..101 are safe on Linux); parallel runs do not cross-talk.
    os.environ['RAIV_TEST_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 101))
os.environ['ROS_DOMAIN_ID'] = os.environ['RAIV_TEST_DOMAIN_ID']

from helpers import free_port, ros_session_fixture, ScenePair  # noqa: E402
import pytest  # noqa: E402  (after the environment: rclpy reads it at import)

ros_session = ros_session_fixture()
"""The one ROS session fixture: a Ros per test (a module may redeclare it module-scoped)."""


@pytest.fixture(name='free_port')
def free_port_fixture() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on."""
    return free_port()


@pytest.fixture(scope='session')
def scene_pair():
    """Return the sample scene through the RAiV nominal rig at 800x650, with its true depth."""
    from raiv_stereo.core.calibration import raiv_nominal
    from raiv_stereo.eval.scene import Renderer, sample_scene, truth_depth_m

    calibration = raiv_nominal().scaled(0.5)
    rendered = Renderer(calibration, sample_scene()).render(0.0, with_truth=False)
    return ScenePair(calibration, rendered.left_bgr, rendered.right_bgr,
                     truth_depth_m(calibration, sample_scene(), 0.0))


@pytest.fixture
def rig_factory(ros_session):
    """Return a maker of depth-node test rigs (test_depth_node.Rig); close them after the test."""
    from test_depth_node import NODE_SCALE, Rig

    rigs = []

    def make(params: dict | None = None, **kwargs) -> Rig:
        rig = Rig(ros_session.context, {'scale': NODE_SCALE, **(params or {})}, **kwargs)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()
