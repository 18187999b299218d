/*
 * device.h -- fleet-agent's device port (agent.h's struct
 * fl_agent_device_ops) on Linux: the preconditions' facts from files and
 * the configuration, health samples from files and the health hook, and
 * the reboot (a command, or exit status 3 for a supervisor). Also what the
 * start-up needs from the same files: the reset reason. Private to
 * fleet-agent.
 */
#ifndef FLA_DEVICE_H
#define FLA_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "fl/agent.h"
#include "hook.h"

struct fla_device {
	const struct fla_config *cfg;
	struct fl_loop *loop;
	struct fla_proc hook;
	struct fla_proc reboot_cmd;
	bool is_hook_started;
	bool is_reboot_requested; /* the agent asked; main acts in exit mode */
	unsigned n_reboots;
};

/* cfg and loop are borrowed. */
void fla_device_init(struct fla_device *d, const struct fla_config *cfg,
		     struct fl_loop *loop);
/* Kills a hook or reboot command still running. */
void fla_device_fini(struct fla_device *d);

extern const struct fl_agent_device_ops fla_device_ops;

/*
 * The reset reason of this start (enum fl_reset_reason): "software" when
 * the previous run asked for the reboot (a marker file in the state
 * directory, removed here), else the content of health.reset_reason_file
 * (a name of docs/protocol.md: power_on, software, watchdog, brownout,
 * panic, unknown), else fallback.
 */
uint8_t fla_reset_reason(const struct fla_config *cfg, uint8_t fallback);

#endif
