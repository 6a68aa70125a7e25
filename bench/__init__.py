"""The bench scripts (run as ``python bench/NAME.py``, see bench/README.md).

A package so that the scripts share helpers as ``bench.timing``, ``bench.ws_*`` (the
repository first on ``sys.path``, as every script sets it) and so that mypy names these files
``bench.*``, not after the top-level packages they would otherwise shadow (``workstation``).
Nothing is imported here: a script pays only for what it uses.
"""
