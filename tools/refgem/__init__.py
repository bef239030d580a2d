"""refgem's test tooling: an igt_runner-style runner for the guest and a
drm-ci-style gate for the host. Standard library only: the guest runs the
host's /usr/bin/python3 from a read-only 9p root."""
