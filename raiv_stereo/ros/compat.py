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
The ROS Python modules raiv_stereo needs, with stand-ins only when they cannot be imported.

`message_filters`, `CvBridge` and `CvBridgeError` are the real ones from a ROS install; on a
machine without ROS (pip wheels of rclpy and the messages only) the project's own stand-ins in
raiv_stereo/ros/standins take their place and `STANDINS_IN_USE` names them.
"""

_standins = []

try:
    import message_filters
except ImportError:
    from raiv_stereo.ros.standins import message_filters
    _standins.append('message_filters')

try:
    from cv_bridge import CvBridge, CvBridgeError
except ImportError:
    from raiv_stereo.ros.standins.cv_bridge import CvBridge, CvBridgeError
    _standins.append('cv_bridge')

STANDINS_IN_USE: tuple[str, ...] = tuple(_standins)
del _standins


def filter_subscriber(node, msg_type, topic: str, qos_profile, qos_overriding_options):
    """
    Return (message_filters.Subscriber with these QoS overrides, a note; '' = nothing lost).

    message_filters 7.1.5 (Kilted) took no keyword arguments besides qos_profile (7.1.6 and
    Jazzy's pass them on). There, the overrides are declared and applied here as rclpy's
    create_subscription would; if even that fails the note says what is lost.
    """
    try:
        return message_filters.Subscriber(node, msg_type, topic, qos_profile=qos_profile,
                                          qos_overriding_options=qos_overriding_options), ''
    except TypeError as error:
        refused = str(error)
    note = (f'this message_filters refuses qos_overriding_options ({refused}); the '
            'qos_overrides of the input topics are applied by raiv_stereo instead')
    try:
        from rclpy.qos_overriding_options import _declare_qos_parameters
        from rclpy.subscription import Subscription

        _declare_qos_parameters(Subscription, node, node.resolve_topic_name(topic), qos_profile,
                                qos_overriding_options)
    except Exception as error:  # noqa: BLE001 - a private rclpy helper: say what is lost
        note = (f'this message_filters refuses qos_overriding_options ({refused}) and the '
                f'rclpy helper failed ({error!r}): qos_overrides.* of the input topics (and the '
                "launch files' input_qos) are ignored; the inputs are "
                f'{qos_profile.reliability.name.lower()}')
    try:
        return message_filters.Subscriber(node, msg_type, topic, qos_profile=qos_profile), note
    except TypeError:
        return message_filters.Subscriber(node, msg_type, topic, qos_profile), note


__all__ = ['message_filters', 'CvBridge', 'CvBridgeError', 'STANDINS_IN_USE',
           'filter_subscriber']
