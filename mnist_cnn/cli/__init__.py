"""The commands: ``mnist-train`` (``train``), ``mnist-recognize`` (``recognize``) and
``mnist-draw`` (``draw``); only they (and the web app) print and choose exit codes."""
