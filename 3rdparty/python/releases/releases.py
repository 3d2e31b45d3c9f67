RELEASES = {"package": "conveyor", "pinned": ["0.1.0", "0.2.0"], "earliest": "0.1.0", "index": "3rdparty/python/releases/wheels"}
