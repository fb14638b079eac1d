"""Reference SR models (SRResNet, vanilla and FR-loss fine-tuned), exposed as ordinary adapters.

Not yet built: see the issue "Reference models". Nothing here is importable as a model yet.
"""
