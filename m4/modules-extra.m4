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
PM_MODULE([geoip], [transform: GeoIP via libmaxminddb], [PM_NEED_PKG([libmaxminddb], [MAXMINDDB], [libmaxminddb])])
PM_MODULE([tunnel], [transform: GTP-U, GRE, VXLAN decapsulation], [])
PM_MODULE([classify], [transform: stream classification (classifiers)], [])
PM_MODULE([ndpi], [classifier: nDPI], [PM_NEED_PKG([libndpi], [NDPI], [libndpi])])
PM_MODULE([sqlite3], [output: SQLite], [PM_NEED_PKG([sqlite3], [SQLITE3], [sqlite3])])
PM_MODULE([pgsql], [output: PostgreSQL], [PM_NEED_PKG([libpq], [PGSQL], [libpq])])
PM_MODULE([mysql], [output: MySQL/MariaDB], [PM_NEED_PKG([libmariadb], [MYSQL], [libmariadb])])
dnl the SQL outputs' shared layer (modules/sql/)
AM_CONDITIONAL([BUILD_SQL], [test "x$BUILD_MOD_SQLITE3_TRUE" = x || test "x$BUILD_MOD_PGSQL_TRUE" = x || test "x$BUILD_MOD_MYSQL_TRUE" = x])
PM_MODULE([tag], [transform: pre_tag_map tagging], [PM_NEED_LIB([pcap], [pcap_compile_nopcap], [pcap/pcap.h], [PCAP], [libpcap])])
PM_MODULE([networks], [transform: networks_file, networks_mask, ports_file], [])
PM_MODULE([kafka], [output: JSON aggregates to Apache Kafka],
  [PM_NEED_PKG([rdkafka], [RDKAFKA], [librdkafka])])
PM_MODULE([amqp], [output: JSON aggregates to RabbitMQ (AMQP)],
  [PM_NEED_PKG([librabbitmq], [RABBITMQ], [librabbitmq])])
PM_MODULE([mongodb], [output: MongoDB], [PM_NEED_PKG([libmongoc-1.0], [MONGOC], [libmongoc-1.0])])
dnl the broker outputs' shared delivery library (modules/broker/)
AM_CONDITIONAL([BUILD_BROKER], [test "x$BUILD_MOD_KAFKA_TRUE" = x || test "x$BUILD_MOD_AMQP_TRUE" = x || test "x$BUILD_MOD_MONGODB_TRUE" = x])
dnl Avro encoding for print/kafka/amqp (modules/common/avro/, libpmavro.la):
dnl not a module of its own; without avro-c, avro/avro_json outputs are refused
PM_MODULE([avro], [encoding: Avro (avro/avro_json in print, kafka, amqp)],
  [PM_NEED_PKG([avro-c], [AVRO], [avro-c])])
AM_CONDITIONAL([HAVE_AVRO], [test "x$BUILD_MOD_AVRO_TRUE" = x])
PM_MODULE([bdb], [output: Berkeley DB persistent table], [PM_NEED_LIB([db], [db_create], [db.h], [BDB], [libdb-dev])])
dnl the queryable outputs' shared PMQ table server (modules/common/pmq/)
AM_CONDITIONAL([BUILD_PMQ], [test "x$BUILD_MOD_MEMORY_TRUE" = x || test "x$BUILD_MOD_BDB_TRUE" = x])
PM_MODULE([sampling], [transform: sampling_rate, *_ext_sampling_rate, sampling_map], [])
