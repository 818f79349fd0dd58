"""Rate limits and caps, sans-I/O: token buckets driven by a ``now`` argument."""
