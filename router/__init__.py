"""ticket-router: the routing service (gRPC API, rules, history, settings).

Kept import-light: `queues` and `scoring` import `router.errors` without pulling in gRPC.
"""
