# POP3 (RFC 1939 section 4): the server greeting is a positive
# response, "+OK" then text.
pop3
^\+ok( [^\x0d\x0a]*)?\x0d?\x0a
