"""Only the camera driver: `ros2 launch raiv_stereo camera.launch.py`."""

from raiv_stereo.ros.launch_description import build


def generate_launch_description():
    """Start the RAiV camera driver alone."""
    return build(camera=True, depth=False)
