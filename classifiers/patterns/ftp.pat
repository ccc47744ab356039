# FTP (RFC 959 section 4.2 and 5.4): a 220 service-ready reply naming FTP,
# or any 220 reply followed by USER, AUTH (RFC 4217) or FEAT (RFC 2389).
ftp
^220[ -][^\x0d\x0a]*ftp|^220[ -][^\x0d\x0a]*\x0d?\x0a(user|auth tls|auth ssl|feat)
