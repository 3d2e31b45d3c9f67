"""The server role: the HTTP JSON API over SQLite run storage, talking to a code server over gRPC."""
