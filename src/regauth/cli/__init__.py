"""The ``regauth`` command line: a thin shell over :mod:`regauth.api` (entry point :func:`main.main`)."""
