# RTSP (RFC 2326 section 6.1 Request-Line and 7.1 Status-Line; RFC 7826
# for RTSP/2.0).
rtsp
^(options|describe|announce|setup|play|pause|teardown|get_parameter|set_parameter|redirect|record|play_notify) [^ ]+ rtsp/[12]\.[0-9]|^rtsp/[12]\.[0-9] [1-5][0-9][0-9] 
