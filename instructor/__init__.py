"""Instructor tooling: example submissions and the autograding demo (not part of rnnlib)."""
