"""CLI verbs of the upper floor (train, evaluate, predict, export, download).

Their modules import TensorFlow and friends lazily, inside each command.
"""

REGISTER = []
