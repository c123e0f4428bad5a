"""What checks are made of: the lab objects they create, how they look into namespaces and at
the wire, how they probe, and how they record evidence and fail."""
