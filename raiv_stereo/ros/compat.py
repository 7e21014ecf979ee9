"""The ROS Python modules raiv_stereo needs, with stand-ins only when they cannot be imported.

`message_filters`, `CvBridge` and `CvBridgeError` are the real ones from a ROS install; on a
machine without ROS (pip wheels of rclpy and the messages only) the minimal copies in
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

__all__ = ['message_filters', 'CvBridge', 'CvBridgeError', 'STANDINS_IN_USE']
