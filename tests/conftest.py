import os

# Unit tests and chapters run in the smoke profile, offline, with results and caches kept out of the tree.
os.environ.setdefault("ALEXNET_PROFILE", "smoke")
os.environ.setdefault("ALEXNET_OFFLINE", "1")
os.environ.setdefault("ALEXNET_STATIC", "1")
