# agentid: agentidd (daemon) and agentid (command line).
# make deps | make | make check | make asan | make fuzz | make bench | make demo
# make install [PREFIX=/usr/local] [DESTDIR=]

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
B	?= build
BIN	?= bin

PKGS	 = libetpan libesmtp-1.0 jansson libcurl sqlite3 libmicrohttpd gnutls \
	   inih libpsl libseccomp openssl
WARN	 = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter
CFLAGS	?= -O2 -g
# -fPIE/-pie are explicit: libetpan.pc drags in a no-pie specs file.
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	   -fPIE $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -I. \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(EXTRA_LDFLAGS)
LIBS	 = $(filter-out -specs=%,$(shell pkg-config --libs $(PKGS) 2>/dev/null)) \
	   -lpthread -lm

# Every .c under these folders goes into one archive, except the two mains.
MAINS	 = provisioner/agentidd.c cli/agentid.c
LIBSRC	 = $(filter-out $(MAINS),$(wildcard common/*.c extract/*.c mail/*.c \
	   sms/*.c provisioner/*.c cli/*.c))
LIBOBJ	 = $(LIBSRC:%.c=$(B)/%.o)
UNITS	 = $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZERS	 = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

DEB_PKGS = build-essential pkg-config libetpan-dev libesmtp-dev libjansson-dev \
	   libcurl4-gnutls-dev libmicrohttpd-dev libsqlite3-dev libgnutls28-dev \
	   libinih-dev libpsl-dev libseccomp-dev sqlite3 python3 libssl-dev \
	   dovecot-imapd dovecot-lmtpd python3-aiosmtpd clang \
	   libclang-rt-14-dev util-linux wrk valgrind ca-certificates man-db \
	   openssl openssl

.PHONY: all deps check unit integ asan fuzz bench demo install clean
.SECONDARY:
all: $(BIN)/agentidd $(BIN)/agentid

deps:
	@missing=; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || \
	    missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	  apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
	    --no-install-recommends $$missing >/dev/null || exit 1; \
	else echo "deps: all installed"; fi

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libagentid.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/agentidd: $(B)/provisioner/agentidd.o $(B)/libagentid.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BIN)/agentid: $(B)/cli/agentid.o $(B)/libagentid.a
	@mkdir -p $(BIN)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libagentid.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

unit: $(addprefix $(B)/tests/,$(UNITS))

# The runner prints one PASS/FAIL line per case and ends with
# "N passed, N failed".  T=name runs only the tests whose name matches.
check: all unit
	@B=$(B) BIN=$(BIN) tests/run $(T)

asan:
	$(MAKE) B=build-asan BIN=build-asan/bin CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" check

FUZZ_SECONDS ?= 60
$(B)/fuzz/%: tests/fuzz/%.c $(LIBSRC)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags $(PKGS)) $< $(LIBSRC) -o $@ $(LIBS)

fuzz: $(addprefix $(B)/fuzz/,$(FUZZERS))
	@for f in $(FUZZERS); do mkdir -p tests/fuzz/corpus/$$f $(B)/fuzz/new-$$f; \
	  echo "fuzz $$f for $(FUZZ_SECONDS)s"; \
	  $(B)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=262144 $(B)/fuzz/new-$$f tests/fuzz/corpus/$$f 2>$(B)/fuzz/$$f.log \
	    || { tail -40 $(B)/fuzz/$$f.log; exit 1; }; \
	  tail -2 $(B)/fuzz/$$f.log; done

bench: all
	@B=$(B) BIN=$(BIN) tests/bench/run

demo: deps all
	@AGENTID_BIN=$$(cd $(BIN) && pwd) /usr/bin/python3 tests/demo.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/doc/agentid
	install -m 0755 $(BIN)/agentidd $(BIN)/agentid $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/agentid.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 man/agentidd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 man/agentidd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 examples/agentidd.conf $(DESTDIR)$(PREFIX)/share/doc/agentid/
	if [ -f contrib/agentidd.service ]; then install -d $(DESTDIR)$(PREFIX)/lib/systemd/system; \
	  install -m 0644 contrib/agentidd.service $(DESTDIR)$(PREFIX)/lib/systemd/system/; fi
	if [ -f contrib/agentid.bash ]; then install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions; \
	  install -m 0644 contrib/agentid.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/agentid; fi

clean:
	rm -rf build build-asan bin

-include $(LIBOBJ:.o=.d)
