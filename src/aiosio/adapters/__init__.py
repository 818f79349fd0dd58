"""Adapters: the seam between a namespace and the other servers of a cluster."""
