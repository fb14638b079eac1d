"""Face datasets (FaceSet and loaders) and alignment."""
