# IRC (RFC 2812 section 3.1): registration sends optional PASS and CAP
# (IRCv3), then NICK and USER in either order; a server that speaks
# first sends a prefixed NOTICE.
irc
^(pass [^\x0d\x0a]*\x0d?\x0a)?(cap [^\x0d\x0a]*\x0d?\x0a)?(nick [^\x0d\x0a]+\x0d?\x0auser |user [^\x0d\x0a]+\x0d?\x0anick )|^:[^ ]+ notice [^ ]+ :
