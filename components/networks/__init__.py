"""One network component per cloud, created before any cluster.

A network owns the cluster's static egress addresses, which every peer's
API allow-list and gateway source ranges include; creating them first is
what lets clusters be created in parallel without waiting on each other.
"""
