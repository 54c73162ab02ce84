"""Agent queues on Redis: atomic enqueue, offer, accept, reject, expire, complete (Lua)."""
