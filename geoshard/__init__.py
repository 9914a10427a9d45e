"""The top of Geoshard: the ``geoshard`` command line and ``devnet``, which compose the processes."""

__version__ = "0.1.0"
