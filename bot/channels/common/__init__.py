"""What the platform channels share, written once: neither platform package imports the other.

``answers`` (a click's answer, the frame's budget, reports to the sink), ``thread`` (a stream
SDK's private thread and loop), ``bridge`` (an SDK thread's way to the gateway's loop and
back), ``once`` (one handling per event id) and ``ratelimit`` (client-side pacing of API calls).
"""
