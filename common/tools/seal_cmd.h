/*
 * seal_cmd.h -- fleet-manifest's commands for encrypted images
 * (seal_cmd.c). Each returns the exit status.
 */
#ifndef FL_SEAL_CMD_H
#define FL_SEAL_CMD_H

#include "fl/proto.h"

int fl_seal_tool_seal(int argc, char **argv);
int fl_seal_tool_wrapkey(int argc, char **argv);
int fl_seal_tool_wrap(int argc, char **argv);
/* Fills m's body-format-2 fields from the container at path (its header,
 * length and SHA-256); m->length must already be the image's. Returns 0
 * or the exit status after a message. */
int fl_seal_tool_inspect(const char *path, struct fl_manifest *m);

#endif
