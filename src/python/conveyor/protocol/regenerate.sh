#!/usr/bin/env bash
# Regenerates the committed protobuf/gRPC stubs from code_location.proto.
# Needs grpcio-tools (it bundles protoc): run with the python of a venv built from
# 3rdparty/python/requirements.txt, e.g.  PYTHON=.venv/bin/python ./regenerate.sh
# The proto is compiled relative to src/python so that the generated code imports
# itself as conveyor.protocol.code_location_pb2 (no relative-import fixups needed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src_root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
cd "$src_root"
"$python" -m grpc_tools.protoc \
  -I . \
  --python_out=. \
  --pyi_out=. \
  --grpc_python_out=. \
  conveyor/protocol/code_location.proto
echo "regenerated: $(ls "$here"/code_location_pb2*.py* | xargs -n1 basename | tr '\n' ' ')"
