"""``python -m mnist_cnn.train``: the ``mnist-train`` command, whose code is in ``trainer``.

Import ``mnist_cnn.trainer`` instead of this module: importing it makes the package attribute
``mnist_cnn.train``, the training function, this module (Python binds a package's submodules as
its attributes).
"""

import sys

from mnist_cnn.trainer import main

if __name__ == "__main__":
    sys.exit(main())
