"""Python clients (sync and asyncio) for the ticket-router gRPC API."""
