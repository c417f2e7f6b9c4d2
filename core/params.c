#include "params.h"

#include <string.h>

#include "buf.h"

const param_def param_defs[P_COUNT] = {
    [P_TEMPERATURE] = {"temperature", LLMSVC_PARAM_FLOAT},
    [P_TOP_P] = {"top_p", LLMSVC_PARAM_FLOAT},
    [P_TOP_K] = {"top_k", LLMSVC_PARAM_INT},
    [P_MAX_TOKENS] = {"max_tokens", LLMSVC_PARAM_INT},
    [P_REASONING_EFFORT] = {"reasoning_effort", LLMSVC_PARAM_ENUM},
    [P_VERBOSITY] = {"verbosity", LLMSVC_PARAM_ENUM},
    [P_SEED] = {"seed", LLMSVC_PARAM_INT},
    [P_STOP] = {"stop", LLMSVC_PARAM_STRING_LIST},
    [P_PRESENCE_PENALTY] = {"presence_penalty", LLMSVC_PARAM_FLOAT},
    [P_FREQUENCY_PENALTY] = {"frequency_penalty", LLMSVC_PARAM_FLOAT},
};

int param_lookup(const char *name)
{
    for (int i = 0; i < P_COUNT; i++) {
        if (strcmp(param_defs[i].name, name) == 0)
            return i;
    }
    return -1;
}

static const char *const type_names[] = {
    [LLMSVC_PARAM_FLOAT] = "float", [LLMSVC_PARAM_INT] = "int",
    [LLMSVC_PARAM_ENUM] = "enum",   [LLMSVC_PARAM_STRING] = "string",
    [LLMSVC_PARAM_BOOL] = "bool",   [LLMSVC_PARAM_STRING_LIST] = "string_list",
};

const char *param_type_name(llmsvc_param_type t)
{
    if (t >= LLMSVC_PARAM_FLOAT && t <= LLMSVC_PARAM_STRING_LIST)
        return type_names[t];
    return "?";
}

llmsvc_param_type param_type_parse(const char *name)
{
    for (int t = LLMSVC_PARAM_FLOAT; t <= LLMSVC_PARAM_STRING_LIST; t++) {
        if (strcmp(type_names[t], name) == 0)
            return (llmsvc_param_type)t;
    }
    return 0;
}

int param_list_names(struct buf *out, unsigned mask)
{
    int first = 1;
    for (int i = 0; i < P_COUNT; i++) {
        if (!(mask & (1u << i)))
            continue;
        if (buf_printf(out, "%s%s", first ? "" : ", ", param_defs[i].name) < 0)
            return -1;
        first = 0;
    }
    if (first)
        return buf_puts(out, "none");
    return 0;
}
