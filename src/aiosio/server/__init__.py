"""The asyncio server: the engine, namespaces, sockets and broadcasts."""
