"""Published SR models from registry packages: the ncnn and TF.js readers, the catalogue and the
loaders (``--model zoo:NAME``, ``--model ncnn``, ``--model tfjs``). See ``docs/zoo.md``.

Importing this package imports nothing heavy; the readers import torch when used.
"""
