"""Fitting: what makes the learned parts, imported only by ``mnist-train``, ``mnist_cnn.train``
and the scripts; reading never imports it.

MNIST (``data``), the ConvNet's training (``convnet``, ``run``) and the loop and augmentation
the small networks share (``loop``); the detector's, the verifier's and the pair reader's fits
(``detector``, ``verifier``, ``pairs``) and the samples they are fitted on (``composing``,
``outliers``, ``strokes``, ``handed``), which they read through the reading pipeline itself;
the report after training (``report``).
"""
