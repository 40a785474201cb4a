# fuzz.mk - bounded libFuzzer run of the plugin's XML-RPC methodCall parser.
# Invoked by the top-level `make fuzz` as `$(MAKE) -C xapi-plugin -f fuzz.mk`.
#   FUZZ_SECONDS  how long to fuzz (default 60)
# Needs clang with libFuzzer (Debian: apt-get install clang).  Built with
# ASan + UBSan; the corpus grows in ../tests/tmp/fuzz-corpus (seeds below).

FUZZ_SECONDS ?= 60
CLANG  ?= clang
TOP    := ..
OUT    := $(TOP)/tests/tmp/fuzz
CORPUS := $(TOP)/tests/tmp/fuzz-corpus
SAN    := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -I$(TOP)/libgpupool/include -I$(TOP)/libgpupool/src \
          $(shell pkg-config --cflags libxml-2.0 json-c libcurl)
# The parser and what it needs; nothing else of the library.
SRCS   := fuzz_methodcall.c $(TOP)/libgpupool/src/rpc/xmlrpc.c $(TOP)/libgpupool/src/core/error.c \
          $(TOP)/libgpupool/src/core/util.c
LIBS   := $(shell pkg-config --libs libxml-2.0 json-c)

.PHONY: fuzz
fuzz: $(OUT)/fuzz_methodcall
	@mkdir -p $(CORPUS)
	@printf '%s' '<methodCall><methodName>list_gpus</methodName><params><param><value>OpaqueRef:s</value></param><param><value><struct/></value></param></params></methodCall>' > $(CORPUS)/seed-empty
	@printf '%s' '<methodCall><methodName>assign_gpu</methodName><params><param><value>s</value></param><param><value><struct><member><name>vm_uuid</name><value>a&amp;b</value></member><member><name>x</name><value/></member><member><name>n</name><value><array><data><value><int>1</int></value><value><boolean>1</boolean></value><value><double>1.5</double></value><value><nil/></value></data></array></value></member></struct></value></param></params></methodCall>' > $(CORPUS)/seed-types
	$(OUT)/fuzz_methodcall -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 $(CORPUS)

$(OUT)/fuzz_methodcall: $(SRCS) $(TOP)/libgpupool/src/rpc/rpc.h $(TOP)/libgpupool/src/core/core.h $(TOP)/libgpupool/include/gpupool.h
	@command -v $(CLANG) >/dev/null || { echo "fuzz: clang not found (apt-get install clang)"; exit 1; }
	@mkdir -p $(OUT)
	$(CLANG) $(CFLAGS) $(SAN) -o $@ $(SRCS) $(LIBS)
