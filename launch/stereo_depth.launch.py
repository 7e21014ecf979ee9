"""Only the depth node, for your own camera driver.

`ros2 launch raiv_stereo stereo_depth.launch.py`

Remap or namespace your driver's left/right image_raw and camera_info into `namespace`.
"""

from raiv_stereo.ros.launch_description import build


def generate_launch_description():
    """Start the depth node alone."""
    return build(camera=False, depth=True)
