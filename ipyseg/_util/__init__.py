"""Leaf helpers that import nothing of ipyseg: arrays, timers, files."""
