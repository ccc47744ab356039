# SIP (RFC 3261 section 7.1 Request-Line = Method SP Request-URI SP
# SIP-Version; 7.2 Status-Line), methods of RFC 3261/3262/3265/3311/3428/
# 3515/3903/6086.
sip
^(invite|register|options|ack|bye|cancel|subscribe|notify|message|info|prack|update|refer|publish) [^ ]+ sip/2\.0|^sip/2\.0 [1-6][0-9][0-9] 
