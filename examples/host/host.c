/* A host application embedding libllmsvc: the original module's basic call.
 * Built against the installed package alone:
 *     cc host.c $(pkg-config --cflags --libs llmsvc) -o host
 * Usage: ./host [PROVIDER MODEL [PROMPT]]    (default: mock mock-1) */
#include <llmsvc/llmsvc.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *provider = argc > 2 ? argv[1] : "mock";
    const char *model = argc > 2 ? argv[2] : "mock-1";
    const char *prompt = argc > 3 ? argv[3] : "Write a haiku about recursion.";

    llmsvc_runtime *rt = NULL;
    llmsvc_request *req = NULL;
    llmsvc_response *resp = NULL;
    llmsvc_error *err = NULL;
    int rc = 1;

    /* default plugin and spec folders of the installation */
    if (llmsvc_runtime_open(&rt, NULL, &err) != LLMSVC_OK)
        goto out;
    if (llmsvc_request_new(&req) != LLMSVC_OK)
        goto out;
    llmsvc_request_set_provider(req, provider);
    llmsvc_request_set_model(req, model);
    llmsvc_request_set_prompt(req, prompt);
    llmsvc_request_set_number(req, "max_tokens", 500);
    if (llmsvc_call(rt, req, &resp, &err) != LLMSVC_OK)
        goto out;

    printf("%s\n", llmsvc_response_message(resp));
    printf("input tokens: %lld, output tokens: %lld, total: %lld, cost: $%.6f\n",
           (long long)llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT),
           (long long)llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT),
           (long long)llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL),
           llmsvc_response_cost_usd(resp));
    printf("(libllmsvc %s, %s/%s)\n", llmsvc_version(), llmsvc_response_provider(resp),
           llmsvc_response_model(resp));
    rc = 0;
out:
    if (err)
        fprintf(stderr, "host: %s: %s\n", llmsvc_code_name(llmsvc_error_code(err)),
                llmsvc_error_message(err));
    llmsvc_error_free(err);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    llmsvc_runtime_close(rt);
    return rc;
}
