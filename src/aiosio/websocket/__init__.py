"""Sans-I/O WebSocket (RFC 6455): framing, the opening handshake, permessage-deflate.

* :mod:`~aiosio.websocket.frames`: frames in and out, close codes, masking.
* :mod:`~aiosio.websocket.handshake`: the opening handshake of both ends and the
  negotiation of extensions.
* :mod:`~aiosio.websocket.deflate`: permessage-deflate (RFC 7692).

Our own code rather than a library's: a broadcast is framed once and the same bytes are
written to every recipient, which no library we looked at offers.
"""
