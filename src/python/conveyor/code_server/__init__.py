"""The user-code role: a gRPC code server that loads job definitions and executes runs."""
