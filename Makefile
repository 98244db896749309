# toyrun build. `make` gives bin/toyrun (Bun runs it), dist/init.js (the container
# init) and bundles/busybox/rootfs (from Debian's static busybox).
BUN      := $(CURDIR)/node_modules/@oven/bun-linux-x64/bin/bun
SRC      := $(shell find src -name '*.ts' -not -path 'src/spec/generated/*')
BUSYBOX  ?= /bin/busybox
BUNDLE_FLAGS := --target=node --format=cjs --external koffi

.PHONY: all deps test unit integration e2e bench stress typecheck clean
all: bin/toyrun dist/init.js dist/exec-init.js bundles/busybox/rootfs/bin/sh

deps: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

src/spec/generated/validators.js: schema/config.schema.json scripts/compile-schema.cjs node_modules/.installed
	node scripts/compile-schema.cjs

dist/toyrun.js: $(SRC) src/spec/generated/validators.js
	$(BUN) build src/main.ts $(BUNDLE_FLAGS) --outfile $@ >/dev/null

dist/init.js: $(SRC) src/spec/generated/validators.js
	$(BUN) build src/init.ts $(BUNDLE_FLAGS) --outfile $@ >/dev/null

dist/exec-init.js: $(SRC) src/spec/generated/validators.js
	$(BUN) build src/exec-init.ts $(BUNDLE_FLAGS) --outfile $@ >/dev/null

# The bundle itself, behind a shebang naming the engine by absolute path:
# toyrun must run with an empty environment (no PATH) from any cwd.
bin/toyrun: dist/toyrun.js
	mkdir -p bin
	{ echo '#!$(BUN)'; cat dist/toyrun.js; } > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(BUSYBOX):
	apt-get install -y -qq busybox-static >/dev/null

bundles/busybox/rootfs/bin/sh: $(BUSYBOX) scripts/make-rootfs.sh
	sh scripts/make-rootfs.sh $(BUSYBOX) bundles/busybox/rootfs

typecheck: node_modules/.installed src/spec/generated/validators.js
	node_modules/.bin/tsc -p .

# The whole suite: unit tests, then integration tests against real containers (root).
UVU := FORCE_COLOR=0 $(BUN) node_modules/uvu/bin.js test
test: all typecheck
	$(UVU) '\.test\.ts$$'

unit: all
	$(UVU) '^unit/.*\.test\.ts$$'

integration: all
	$(UVU) '^integration/.*\.test\.ts$$'

# End to end: podman and containerd drive toyrun (and runc, as the reference).
e2e: all
	$(UVU) '^e2e/.*\.test\.ts$$'

bench: all
	$(BUN) scripts/bench.ts

clean:
	rm -rf dist bin src/spec/generated bundles/busybox/rootfs
