"""One component per cloud; each yields a ClusterHandle (components.handle)."""
