"""Code that runs on the RAiV camera itself (no ROS import)."""
