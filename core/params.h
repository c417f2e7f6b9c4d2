/* params — llmsvc's request parameter names, the same for every provider.
 * Specs list which of them a model takes; plugins map them to wire names. */
#ifndef LLMSVC_PARAMS_H
#define LLMSVC_PARAMS_H

#include "llmsvc/plugin.h"

typedef enum param_id {
    P_TEMPERATURE,
    P_TOP_P,
    P_TOP_K,
    P_MAX_TOKENS,
    P_REASONING_EFFORT,
    P_VERBOSITY,
    P_SEED,
    P_STOP,
    P_PRESENCE_PENALTY,
    P_FREQUENCY_PENALTY,
    P_COUNT
} param_id;

typedef struct param_def {
    const char *name;
    llmsvc_param_type type;
} param_def;

extern const param_def param_defs[P_COUNT];

/* The id of a parameter name, or -1. */
int param_lookup(const char *name);
/* "float", "int", ... */
const char *param_type_name(llmsvc_param_type t);
/* The type of that name, or 0. */
llmsvc_param_type param_type_parse(const char *name);
/* "temperature, top_p, ..." for the ids whose bit is set in mask, into out. */
struct buf;
int param_list_names(struct buf *out, unsigned mask);

#endif
