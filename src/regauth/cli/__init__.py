"""The ``regauth`` command line: a thin shell over :mod:`regauth.api`."""
