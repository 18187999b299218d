/*
 * fuzz_agent_config.c -- libFuzzer target for fleet-agent's configuration
 * parser (agent/linux/config.c): any bytes go to fla_config_parse in its
 * text-only mode (no file is looked at, so an input naming /dev/stdin or
 * a FIFO cannot block it), which must never crash, leak or hang, and must
 * keep its contract: 0 exactly when there is no diagnostic, every
 * diagnostic has a position and a message, and an accepted configuration
 * has what fleet-agent relies on.
 *
 * Built with FL_FUZZ_REPLAY, the same file is a plain program that runs the
 * target over every file of the folders named on its command line: the
 * corpus replays as an ordinary test, with any compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fl/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fla_config cfg;
	static struct fla_diags diags;
	int rc;

	memset(&diags, 0, sizeof(diags));
	diags.file = "fuzz.yaml";
	rc = fla_config_parse(&cfg, (const char *)data, size, "/nonexistent",
			      FLA_CONFIG_TEXT_ONLY, &diags);
	check((rc == 0) == (diags.n == 0 && diags.n_dropped == 0));
	check(diags.n <= FLA_DIAGS_MAX);
	for (unsigned i = 0; i < diags.n; i++) {
		check(diags.d[i].line >= 1 && diags.d[i].col >= 1);
		check(diags.d[i].msg[0] != '\0');
		check(memchr(diags.d[i].msg, '\0', sizeof(diags.d[i].msg)) !=
		      NULL);
	}
	if (rc != 0)
		return 0;
	check(cfg.id[0] != '\0' && cfg.model[0] != '\0');
	check(cfg.host[0] != '\0' && cfg.port != 0);
	check(cfg.state_dir[0] != '\0' && cfg.flash_path[0] != '\0');
	check(cfg.slot_bytes >= 4096 && cfg.erase_bytes >= 512);
	check(cfg.n_keys >= 1 && cfg.n_keys <= FLA_KEYS_MAX);
	check(cfg.n_rollback_kids <= cfg.n_keys);
	check(cfg.n_labels <= FL_PROTO_LABELS_MAX);
	check(cfg.n_metrics <= FL_PROTO_METRICS_MAX);
	check(cfg.trial_tries >= 1);
	check(!cfg.has_blackout ||
	      (cfg.blackout_start_min < 1440 && cfg.blackout_end_min < 1440 &&
	       cfg.blackout_start_min != cfg.blackout_end_min));
	return 0;
}

#ifdef FL_FUZZ_REPLAY
#include "fuzz_replay.h"
#endif
