# IMAP (RFC 9051 / RFC 3501 section 7.1): the greeting is an untagged
# OK, PREAUTH or BYE response.
imap
^\* (ok|preauth|bye)[ []
