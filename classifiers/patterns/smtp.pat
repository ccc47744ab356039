# SMTP (RFC 5321 section 4.2 and 4.1.1.1): the server's 220 greeting
# naming (E)SMTP or mail, or any 220 greeting followed by the client's
# EHLO/HELO.
smtp
^220[ -][^\x0d\x0a]*(smtp|mail)|^220[ -][^\x0d\x0a]*\x0d?\x0a(ehlo|helo) 
