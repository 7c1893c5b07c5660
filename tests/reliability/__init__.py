"""Reliability and security evidence: races, crashes, broken files, hostile servers, secrets."""
