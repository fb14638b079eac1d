"""Pure metric functions over arrays and tensors: no files, models or CLI."""
