"""Camera driver + depth node in one namespace: `ros2 launch raiv_stereo depth.launch.py`."""

from raiv_stereo.ros.launch_description import build


def generate_launch_description():
    """Start the RAiV camera driver and the depth node."""
    return build(camera=True, depth=True)
