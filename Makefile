# toyrun build. `make` gives bin/toyrun (the engine and toyrun compiled into one
# executable) and bundles/busybox/rootfs (from Debian's static busybox).
BUN      := $(CURDIR)/node_modules/@oven/bun-linux-x64/bin/bun
SRC      := $(shell find src -name '*.ts' -not -path 'src/spec/generated/*')
BUSYBOX  ?= /bin/busybox
# koffi's native module stays in node_modules, dlopen'ed by path (src/linux/koffi.ts);
# the Node bundles also leave tar and dbus-next there (required when needed)
EXTERNALS := --external koffi
# bin/toyrun: Bun's engine with toyrun's code precompiled (bytecode) inside. It is
# the CLI and, with a role word, every runtime process (src/main.ts). A compiled
# executable reads neither .env nor bunfig.toml from the caller's directory
# (those would configure the engine for whoever can write the caller's cwd).
# ESM with code splitting: each role and each command import()s its own chunks,
# so `state` does not load the schema validators, tar or the D-Bus client.
# (dbus-next's optional x11 and usocket are not installed: it falls back to net for the system bus)
# --compile-jit-policy=100: tier-up thresholds a hundredfold, for processes that
# live tens of milliseconds (src/linux/engine.ts says why, and who asks for the normal ones).
COMPILE = $(BUN) build src/main.ts --compile --bytecode --format=esm --splitting --compile-jit-policy=100 --no-compile-autoload-dotenv --no-compile-autoload-bunfig $(EXTERNALS) --external x11 --external usocket --outfile $@ >/dev/null
# the Node bundles (dist/node/) exist for the Node 20 smoke test
NODE_BUNDLE = $(BUN) build $< --target=node --format=cjs $(EXTERNALS) --external tar --external dbus-next --outdir $(@D) >/dev/null

.PHONY: all deps test-deps test unit integration e2e bench stress typecheck clean
all: bin/toyrun dist/node/toyrun.js dist/node/init.js dist/node/exec-init.js dist/node/systemd-dbus.js bundles/busybox/rootfs/bin/sh bundles/layered/layers/base.tar bundles/layered/layers/app.tar

deps: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

src/spec/generated/validators.js: schema/config.schema.json scripts/compile-schema.cjs node_modules/.installed
	node scripts/compile-schema.cjs

bin/toyrun: src/main.ts $(SRC) src/spec/generated/validators.js
	@mkdir -p $(@D)
	$(COMPILE)
dist/node/toyrun.js: src/toyrun.ts $(SRC) src/spec/generated/validators.js
	$(NODE_BUNDLE)
dist/node/init.js: src/init/init.ts $(SRC) src/spec/generated/validators.js
	$(NODE_BUNDLE)
dist/node/systemd-dbus.js: src/systemd-dbus.ts $(SRC) src/spec/generated/validators.js
	$(NODE_BUNDLE)
dist/node/exec-init.js: src/init/exec-init.ts $(SRC) src/spec/generated/validators.js
	$(NODE_BUNDLE)

$(BUSYBOX):
	apt-get install -y -qq busybox-static >/dev/null

bundles/busybox/rootfs/bin/sh: $(BUSYBOX) scripts/make-rootfs.sh
	sh scripts/make-rootfs.sh $(BUSYBOX) bundles/busybox/rootfs

# bundles/layered: the busybox rootfs as a base layer, plus an app layer (adds
# /etc/motd, deletes /bin/wget with a whiteout). Reproducible archives (fixed
# order, owner and mtime): same bytes, same digest, one unpack in the layer store.
TAR_REPRO := --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0
bundles/layered/layers/base.tar: bundles/busybox/rootfs/bin/sh
	mkdir -p $(@D)
	tar -C bundles/busybox/rootfs $(TAR_REPRO) -cf $@.tmp . && mv $@.tmp $@

bundles/layered/layers/app.tar: $(shell find bundles/layered/app)
	mkdir -p $(@D) && rm -rf $@.d && cp -a bundles/layered/app $@.d
	mkdir -p $@.d/bin && : > $@.d/bin/.wh.wget   # OCI whiteout: the layer deletes /bin/wget
	tar -C $@.d $(TAR_REPRO) -cf $@.tmp . && mv $@.tmp $@ && rm -rf $@.d

typecheck: node_modules/.installed src/spec/generated/validators.js
	node_modules/.bin/tsc -p .

# Debian packages the tests drive (runc, podman, containerd, ...): only what is missing.
test-deps:
	sh scripts/test-deps.sh

# The whole suite: unit, integration against real containers, e2e through podman
# and containerd (root). Installs what it needs first.
UVU := FORCE_COLOR=0 $(BUN) node_modules/uvu/bin.js test
test: test-deps all typecheck
	$(UVU) '\.test\.ts$$'

unit: all
	$(UVU) '^unit/.*\.test\.ts$$'

integration: test-deps all
	$(UVU) '^integration/.*\.test\.ts$$'

# Reliability under load, faults and hostile input (minutes, so not in `make test`):
# parallel creates, a 1,000-cycle soak, SIGKILLs at each stage, a config fuzzer.
stress: test-deps all
	$(UVU) '^stress/.*\.stress\.ts$$'

# End to end: podman and containerd drive toyrun (and runc, as the reference).
e2e: test-deps all
	$(UVU) '^e2e/.*\.test\.ts$$'

# Timings are reported, never asserted: toyrun against runc in the same run, then
# image layers. Set RUNS=N for more runs.
bench: all
	$(BUN) scripts/bench.ts $(RUNS)
	$(BUN) scripts/bench-seal.ts
	$(BUN) scripts/bench-image.ts
	$(BUN) scripts/bench-userns.ts $(RUNS)

clean:
	rm -rf dist bin src/spec/generated bundles/busybox/rootfs bundles/layered/layers
