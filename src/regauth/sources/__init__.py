"""Credentials minted on demand, with an expiry: Amazon ECR, and commands the user configures.

Unlike a store, a source does not keep what a login wrote: it asks a cloud (or runs a command) for
short-lived credentials, caches them until shortly before they expire, and hands them out like a
store would.  :mod:`regauth.stores.lookup` asks these sources after Docker's config.json.
"""
