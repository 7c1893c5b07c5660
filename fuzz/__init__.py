"""Long fuzzing campaigns for regauth's parsers (``python -m fuzz --seconds N``, ``make fuzz``).

Rule: no exception other than regauth's own error types (and the documented ValueError of the pure
decoders) may escape a parser.  ``fuzz_parsers`` holds the helper-output and config-loader harnesses,
``fuzz_core`` (when present) the challenge, token-response and address harnesses.
"""
