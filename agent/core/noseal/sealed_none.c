/*
 * sealed_none.c -- the agent without encrypted images: the functions of
 * sealed.c (agent_priv.h) for a firmware that leaves encrypted images out
 * to save their code and RAM. A build links this file instead of
 * agent/core/sealed.c (agent/esp32 with CONFIG_FL_AGENT_ENCRYPTED_IMAGES
 * off; bench/sizes.sh's variant without them); nothing then references the
 * unseal stage, the key unwrap or the container's helpers, and a
 * --gc-sections link drops them.
 *
 * Method: an offer of an encrypted image is answered as by a device
 * without wrap keys (unsupported_package, reason "encryption") and is not
 * taken. A job persisted as encrypted (by another build of the firmware)
 * ends the same way when its transfer would start, with nothing written.
 */
#include "../agent_priv.h"
#include "fl/err.h"

bool fl_agent__is_sealed(const struct fl_agent *a)
{
	return (a->st.job.flags & FL_AGENT_JOB_SEALED) != 0;
}

uint32_t fl_agent__dl_total(const struct fl_agent *a)
{
	const struct fl_agent_job *j = &a->st.job;

	return fl_agent__is_sealed(a) ? j->enc_length : j->length;
}

uint32_t fl_agent__dl_pos(const struct fl_agent *a)
{
	return fl_agent__is_sealed(a) ? 0 : a->in.written;
}

uint8_t fl_agent__seal_admit(struct fl_agent *a, const struct fl_cmd *c,
			     const struct fl_manifest *m, const char **reason)
{
	(void)a;
	(void)c;
	if (!m->is_sealed)
		return FL_RESULT_NONE;
	*reason = "encryption";
	return FL_RESULT_UNSUPPORTED_PACKAGE;
}

void fl_agent__seal_job(struct fl_agent *a, const struct fl_manifest *m)
{
	(void)a;
	(void)m; /* never sealed: fl_agent__seal_admit refused those */
}

void fl_agent__seal_reset(struct fl_agent *a)
{
	a->is_unsealing = false;
	a->st.job.enc_offset = 0;
}

int fl_agent__seal_from(struct fl_agent *a, uint32_t *from, bool *is_ended)
{
	*from = 0;
	*is_ended = true;
	return fl_agent__finish(a, FL_RESULT_UNSUPPORTED_PACKAGE, "encryption");
}

int fl_agent__seal_data(struct fl_agent *a, const void *data, size_t len)
{
	int rc;

	(void)data;
	(void)len;
	a->is_dl_active = false;
	rc = fl_agent__finish(a, FL_RESULT_UNSUPPORTED_PACKAGE, "encryption");
	return rc != 0 ? rc : FL_EINVAL;
}

bool fl_agent__seal_complete(const struct fl_agent *a)
{
	(void)a;
	return false;
}

bool fl_agent__seal_truncated(const struct fl_agent *a)
{
	(void)a;
	return false;
}
