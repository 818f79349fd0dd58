"""Presence and room history, sans-I/O: who is in each room (deduplicated per user, with
the join and leave diffs batched between two flushes) and the last events of a room, with
offsets. Time is passed in; nothing here touches the event loop or the network.
"""
