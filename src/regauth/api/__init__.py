"""The library's operations: login, logout, token, inventory, export."""
