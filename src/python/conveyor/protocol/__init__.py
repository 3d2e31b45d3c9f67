"""The code-location gRPC protocol: code_location.proto and its generated stubs.

Regenerate the stubs with ./regenerate.sh after editing the .proto; never edit them by hand.
"""
