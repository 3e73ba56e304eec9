"""Demo stages that need TensorFlow: train, evaluate, predict, export (filled by later issues)."""

STAGES = []
