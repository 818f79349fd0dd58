"""Sans-I/O Socket.IO v5: the packet codec and the per-connection namespace state machine."""
