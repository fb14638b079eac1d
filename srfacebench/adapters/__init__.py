"""Model adapters: each module here is a model srfacebench can run (``--model adapters.NAME``)."""
