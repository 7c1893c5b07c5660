"""A kubelet image credential provider: regauth's credentials for the images a node pulls.

The kubelet runs ``regauth-kubelet-credential-provider`` with one CredentialProviderRequest on stdin
and reads one CredentialProviderResponse from stdout (docs/kubelet-credential-provider.md).
:mod:`regauth.kubelet.protocol` reads and writes those messages (pure, no I/O);
:mod:`regauth.kubelet.provider` answers a request from the one lookup chain
(:mod:`regauth.stores.lookup`); :mod:`regauth.kubelet.main` is the program.
"""
