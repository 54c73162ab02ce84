"""The gRPC servicers: validate the request, call `RouterApp`, convert the result."""

from router.api.ticket_router.v1 import (
    agent_service_pb2,
    queue_service_pb2,
    rule_service_pb2,
    ticket_service_pb2,
)

SERVICE_NAMES = (
    ticket_service_pb2.DESCRIPTOR.services_by_name["TicketService"].full_name,
    agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    queue_service_pb2.DESCRIPTOR.services_by_name["QueueService"].full_name,
    rule_service_pb2.DESCRIPTOR.services_by_name["RuleService"].full_name,
)
"""Full names of the router's own services (reflection lists them, health reports each)."""
