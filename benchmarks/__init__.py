"""Benchmarks for aiosio against the official Node socket.io and python-socketio.

Run by hand with ``make bench`` (``python -m benchmarks``), never in CI. See README.md.
"""
