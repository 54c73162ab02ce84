"""The gRPC API: generated code of proto/ticket_router/v1 (see scripts/gen_proto)."""
