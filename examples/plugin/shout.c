/* An out-of-tree provider plugin, built against the public plugin.h alone:
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags llmsvc) shout.c -o shout.so
 * It speaks protocol "example-shout": the answer is the prompt in capitals
 * (no network). Drop shout.so into a plugin folder (LLMSVC_PLUGIN_PATH) and
 * shout.yaml into a spec folder (LLMSVC_SPEC_PATH); the llmsvc command and
 * every host then offer provider "shout" without being rebuilt. */
#include <llmsvc/plugin.h>
#include <stdlib.h>
#include <string.h>

static const llmsvc_host *host;

static llmsvc_code shout_execute(void *state, const llmsvc_call_info *call, llmsvc_response *out,
                                 llmsvc_error **err)
{
    (void)state;
    size_t n = strlen(call->prompt);
    char *text = malloc(n + 1);
    if (!text) {
        *err = host->error_new(LLMSVC_E_NOMEM, "shout: out of memory");
        return LLMSVC_E_NOMEM;
    }
    for (size_t i = 0; i <= n; i++)
        text[i] = (call->prompt[i] >= 'a' && call->prompt[i] <= 'z') ? (char)(call->prompt[i] - 32)
                                                                     : call->prompt[i];
    llmsvc_usage usage = LLMSVC_USAGE_INIT;
    usage.input = (int64_t)(n + 3) / 4;
    usage.output = usage.input;
    llmsvc_code rc;
    if ((rc = host->resp_append_text(out, text, n)) == LLMSVC_OK &&
        (rc = host->resp_set(out, LLMSVC_RESP_FINISH_REASON, "stop")) == LLMSVC_OK)
        rc = host->resp_set_usage(out, &usage);
    free(text);
    return rc;
}

static const llmsvc_api_ops shout_ops = {
    .size = sizeof(llmsvc_api_ops),
    .name = "example-shout",
    .execute = shout_execute,
};

static llmsvc_code shout_init(const llmsvc_host *h, llmsvc_registrar *reg, llmsvc_error **err)
{
    host = h;
    return h->register_api(reg, &shout_ops, err);
}

LLMSVC_PLUGIN_DEFINE("example-shout", "1.0.0", "answers in capitals (an out-of-tree example)",
                     shout_init);
