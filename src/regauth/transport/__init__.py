"""HTTP transport that drives the registry flows: connections, TLS, proxies, sessions."""
