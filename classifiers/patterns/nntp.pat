# NNTP (RFC 3977 section 5.1): the greeting is 200 or 201 with text,
# naming NNTP or news, or followed by the client's CAPABILITIES or MODE
# READER.
nntp
^20[01][ -][^\x0d\x0a]*(nntp|news)|^20[01][ -][^\x0d\x0a]*\x0d?\x0a(capabilities|mode reader)
