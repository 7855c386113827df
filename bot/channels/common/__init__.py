"""What the platform channels share, written once: neither platform package imports the other.

``thread`` (a stream SDK's private thread and loop), ``bridge`` (an SDK thread's way to the
gateway's loop and back: a click's answer within the frame's budget, one handling per event id,
what became of the answer reported to the sink) and ``ratelimit`` (client-side pacing of API
calls).
"""
