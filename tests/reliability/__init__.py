"""Reliability and security evidence (issue 4): races, crashes, broken files, hostile servers, secrets."""
