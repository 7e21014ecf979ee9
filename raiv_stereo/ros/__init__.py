"""ROS 2 nodes, message conversions and stand-ins; the only place that imports rclpy."""
