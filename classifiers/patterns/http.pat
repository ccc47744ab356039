# HTTP/1.x (RFC 9112 section 3: request-line = method SP request-target
# SP HTTP-version; section 4: status-line = HTTP-version SP status-code).
# Written for this project from the RFC.
http
^(get|post|head|put|delete|options|trace|connect|patch|propfind|proppatch|mkcol|copy|move|lock|unlock|report|search) [^ ]+ http/[0-9]\.[0-9]|^http/[0-9]\.[0-9] [1-5][0-9][0-9]
