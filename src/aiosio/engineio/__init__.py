"""Sans-I/O Engine.IO v4: codecs, handshake checks and the session state machine."""
