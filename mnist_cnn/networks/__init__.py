"""What reading loads: the four networks' architectures, built of one block, and the registry
of their weights (``registry``: the shipped files and the sidecars beside a checkpoint).

Nothing here knows how a network is fitted (``mnist_cnn.fitting``) or how its inputs are made
(``mnist_cnn.reading.inputs``).
"""
