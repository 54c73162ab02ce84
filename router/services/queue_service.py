"""QueueService: the queues and their live statistics."""

from __future__ import annotations

import grpc
from google.protobuf.duration_pb2 import Duration

from router.api.ticket_router.v1 import queue_service_pb2 as queues_pb
from router.api.ticket_router.v1 import queue_service_pb2_grpc as queues_grpc
from router.app import RouterApp
from router.validation import check_id


class QueueService(queues_grpc.QueueServiceServicer):
    """Implements `ticket_router.v1.QueueService`."""

    def __init__(self, app: RouterApp) -> None:
        self.app = app

    async def ListQueues(
        self, request: queues_pb.ListQueuesRequest, context: grpc.aio.ServicerContext
    ) -> queues_pb.ListQueuesResponse:
        queues = await self.app.queues.list_queues()
        return queues_pb.ListQueuesResponse(
            queues=[queues_pb.Queue(name=q.name, assignment_policy=q.policy.value) for q in queues]
        )

    async def GetQueueStats(
        self, request: queues_pb.GetQueueStatsRequest, context: grpc.aio.ServicerContext
    ) -> queues_pb.GetQueueStatsResponse:
        check_id(request.queue, "queue")
        stats = await self.app.queues.queue_stats(request.queue)
        oldest = Duration()
        oldest.FromNanoseconds(int(stats.oldest_wait_s * 1e9))
        return queues_pb.GetQueueStatsResponse(
            stats=queues_pb.QueueStats(
                queue=stats.queue,
                depth=stats.depth,
                oldest_wait=oldest,
                agents_available=stats.agents_available,
                agents_busy=stats.agents_busy,
                agents_unavailable=stats.agents_away + stats.agents_offline,
            )
        )
