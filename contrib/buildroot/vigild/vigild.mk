################################################################################
#
# vigild
#
################################################################################

# Built from the source tree this directory belongs to (BR2_EXTERNAL).
VIGILD_VERSION = 0.2.0
VIGILD_SITE = $(BR2_EXTERNAL_VIGILD_PATH)/../..
VIGILD_SITE_METHOD = local
VIGILD_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude target --exclude fuzz/target
VIGILD_LICENSE = MIT or Apache-2.0
VIGILD_DEPENDENCIES = host-rustc

# A generic package, not Buildroot's cargo-package: that one sets the
# target's linker to the cross gcc (vigild is linked by rust-lld with
# ld.lld options, see build.rs) and vendors into .cargo/, where vigild's
# own .cargo/config.toml holds the linker and flags of its static build.
# cargo fetches the crates (libc, rustix) at build time: with no network
# then, run `cargo vendor` in the source tree first.
VIGILD_CARGO_ENV = \
	CARGO_HOME=$(HOST_DIR)/share/cargo \
	RUSTC=$(HOST_DIR)/bin/rustc

define VIGILD_BUILD_CMDS
	cd $(@D) && $(TARGET_MAKE_ENV) $(VIGILD_CARGO_ENV) \
		$(HOST_DIR)/bin/cargo build --release --locked \
		--target $(RUSTC_TARGET_NAME) --target-dir $(@D)/target
endef

# install.sh with the binary built above; Buildroot strips the target.
define VIGILD_INSTALL_TARGET_CMDS
	cd $(@D) && $(TARGET_MAKE_ENV) PREFIX=/usr DESTDIR=$(TARGET_DIR) \
		BIN=$(@D)/target/$(RUSTC_TARGET_NAME)/release/vigild STRIP=true \
		./install.sh
endef

$(eval $(generic-package))
