"""The gRPC servicers: validate the request, call `RouterApp`, convert the result."""
