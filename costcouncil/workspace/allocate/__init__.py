"""Attribution: running rules.yaml over the lake, the rollups written with it, and explain."""
