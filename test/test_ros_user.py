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

"""What a ROS user does with the nodes: `ros2 param set` one value at a time, misspelt names."""

from __future__ import annotations

from helpers import wait_for
import pytest
from raiv_stereo.matcher import search_window
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from test_depth_node import _stamp, rig_factory  # noqa: F401 - a fixture



def _param_set(rig, name: str, value) -> object:
    """Set one parameter through the node's set_parameters service, as `ros2 param set` does."""
    client = AsyncParameterClient(rig.io, rig.node.get_fully_qualified_name())
    assert client.wait_for_services(timeout_sec=10.0)
    future = client.set_parameters([Parameter(name, value=value)])
    wait_for(future.done, 10.0, f'the answer to setting {name}')
    return future.result().results[0]


def _param_type(rig, name: str) -> int:
    """Return the stored type of a parameter as `ros2 param get` sees it (ParameterType)."""
    client = AsyncParameterClient(rig.io, rig.node.get_fully_qualified_name())
    future = client.get_parameters([name])
    wait_for(future.done, 10.0, f'the value of {name}')
    return future.result().values[0].type


def test_min_and_num_disparities_can_each_be_set_alone(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('disparity',))
    low, num = search_window(calibration.focal_px, calibration.baseline_m * 1000.0, 300.0,
                             3000.0)
    # num_disparities alone: the window starts where max_depth_mm puts it.
    result = _param_set(rig, 'num_disparities', 128)
    assert result.successful, result.reason
    msg = rig.exchange('disparity', calibration, left, right, _stamp(1))
    assert (msg.min_disparity, msg.max_disparity) == (low, low + 127)
    # min_disparity alone (num_disparities back to 0 first): the width reaches min_depth_mm.
    assert _param_set(rig, 'num_disparities', 0).successful
    result = _param_set(rig, 'min_disparity', 2)
    assert result.successful, result.reason
    msg = rig.exchange('disparity', calibration, left, right, _stamp(2))
    assert msg.min_disparity == 2 and (msg.max_disparity - 1) % 16 == 0
    assert msg.max_disparity >= low + num - 1 - 16


def test_a_whole_number_for_a_double_is_stored_as_a_double(rig_factory):
    rig = rig_factory({'max_depth_mm': 4000}, outputs=())
    # Given at start (`-p max_depth_mm:=4000` arrives as an integer) and set at runtime.
    assert _param_type(rig, 'max_depth_mm') == Parameter.Type.DOUBLE.value
    assert _param_set(rig, 'min_depth_mm', 600).successful
    assert _param_type(rig, 'min_depth_mm') == Parameter.Type.DOUBLE.value
    assert rig.node.get_parameter('min_depth_mm').value == pytest.approx(600.0)
    # Accepted changes are logged, with the old value.
    rig.wait_log('parameters changed', 'min_depth_mm 300.0 -> 600.0')


def test_a_misspelt_parameter_given_at_start_is_named_with_the_closest(rig_factory):
    rig = rig_factory({'min_depht_mm': 500.0, 'rate_hz': 5.0}, outputs=())
    rig.wait_log("'min_depht_mm' is not a parameter of depth_node",
                 "did you mean 'min_depth_mm'")
    # A camera_node parameter in a file shared by both nodes is no mistake.
    assert not rig._logged(("'rate_hz'",))
