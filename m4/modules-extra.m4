dnl m4/modules-extra.m4: configure switches of modules added after the first
dnl three (sinclude'd by configure.ac).  One PM_MODULE line per module.
PM_MODULE([sflow], [capture: sFlow v2/v4/v5 collector],
  [PM_NEED_LIB([pcap], [pcap_open_offline], [pcap/pcap.h], [PCAP], [libpcap])])
PM_MODULE([filter], [transform: aggregate_filter BPF per pipeline],
  [PM_NEED_LIB([pcap], [pcap_compile_nopcap], [pcap/pcap.h], [PCAP], [libpcap])])
PM_MODULE([metrics], [service: Prometheus metrics endpoint], [])
PM_MODULE([netflow], [capture: NetFlow v1/v5/v7/v8/v9 and IPFIX collector],
  [PM_NEED_LIB([pcap], [pcap_open_offline], [pcap/pcap.h], [PCAP], [libpcap])])
dnl the flow collectors' shared input library (modules/common/)
AM_CONDITIONAL([BUILD_FLOWIN], [test "x$BUILD_MOD_NETFLOW_TRUE" = x || test "x$BUILD_MOD_SFLOW_TRUE" = x])
