/* llmsvc call — one call, from options or from a request JSON file. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc call --provider P --model M [options] PROMPT...\n"
    "       llmsvc call --request FILE|- [options] [PROMPT...]\n"
    "\n"
    "Sends one call and prints the answer. Options given beside --request\n"
    "override the request file's fields.\n"
    "\n"
    "  --provider P            provider name (llmsvc models lists them)\n"
    "  --model M               model name or alias\n"
    "  --request FILE|-        request JSON ({\"llm\": {\"prompt\", \"llm_model_spec\": {...}}})\n"
    "  --instructions TEXT     system prompt\n"
    "  --temperature X         sampling temperature\n"
    "  --top-p X               nucleus sampling\n"
    "  --top-k N               top-k sampling\n"
    "  --max-tokens N          output token limit\n"
    "  --reasoning-effort E    none, minimal, low, medium, high, xhigh, max (per model)\n"
    "  --verbosity V           low, medium, high\n"
    "  --seed N                sampling seed\n"
    "  --stop TEXT             a stop sequence (repeatable)\n"
    "  --vector-store ID       search this vector store (file_search)\n"
    "  --max-results N         file-search results to return\n"
    "  --base-url URL          send to this endpoint instead of the spec's\n"
    "  --timeout SECONDS       per attempt (default 600)\n"
    "  --retries N             retries of retryable failures (default 2)\n"
    "  --option KEY=VALUE      provider_options entry; VALUE is JSON or a string (repeatable)\n"
    "  --usage                 after the answer, token counts, cost and latency on stderr\n" CLI_COMMON_HELP
    "\n"
    "Output: the message, then any file-search results (score, file, text); with\n"
    "--json one object with id, provider, model, message,\n"
    "finish_reason, token counts, cost_usd, latency_ms and file_search_results.\n"
    "Errors: 'llmsvc: <class>: <message>' on stderr (and {\"error\": ...} on stdout\n"
    "with --json). Exit codes: 0 ok, 2 usage, 3 validation / unknown model /\n"
    "unsupported provider, 4 the provider answered with an error, 5 transport or\n"
    "timeout, 6 configuration, 1 anything else.\n";

enum {
    O_PROVIDER = OPT_FIRST_FREE,
    O_MODEL,
    O_REQUEST,
    O_INSTRUCTIONS,
    O_TEMPERATURE,
    O_TOP_P,
    O_TOP_K,
    O_MAX_TOKENS,
    O_EFFORT,
    O_VERBOSITY,
    O_SEED,
    O_STOP,
    O_VECTOR_STORE,
    O_MAX_RESULTS,
    O_BASE_URL,
    O_TIMEOUT,
    O_RETRIES,
    O_OPTION,
    O_USAGE
};

static const struct option longopts[] = {
    {"provider", required_argument, NULL, O_PROVIDER},
    {"model", required_argument, NULL, O_MODEL},
    {"request", required_argument, NULL, O_REQUEST},
    {"instructions", required_argument, NULL, O_INSTRUCTIONS},
    {"temperature", required_argument, NULL, O_TEMPERATURE},
    {"top-p", required_argument, NULL, O_TOP_P},
    {"top-k", required_argument, NULL, O_TOP_K},
    {"max-tokens", required_argument, NULL, O_MAX_TOKENS},
    {"reasoning-effort", required_argument, NULL, O_EFFORT},
    {"verbosity", required_argument, NULL, O_VERBOSITY},
    {"seed", required_argument, NULL, O_SEED},
    {"stop", required_argument, NULL, O_STOP},
    {"vector-store", required_argument, NULL, O_VECTOR_STORE},
    {"max-results", required_argument, NULL, O_MAX_RESULTS},
    {"base-url", required_argument, NULL, O_BASE_URL},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"retries", required_argument, NULL, O_RETRIES},
    {"option", required_argument, NULL, O_OPTION},
    {"usage", no_argument, NULL, O_USAGE},
    CLI_COMMON_LONGOPTS,
    {NULL, 0, NULL, 0}};

/* A deferred setting, applied once the request exists. */
typedef struct setting {
    int opt;
    const char *arg;
} setting;

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 8192, n = 0;
    char *p = malloc(cap);
    while (p) {
        size_t got = fread(p + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n + 1 == cap) {
            char *np = realloc(p, cap * 2);
            if (!np) {
                free(p);
                return NULL;
            }
            p = np;
            cap *= 2;
        }
    }
    if (p)
        p[n] = '\0';
    *len = n;
    return p;
}

static int load_request(const cli_common *c, const char *path, llmsvc_request **req)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return cli_fail_code(c, LLMSVC_E_VALIDATION, "cannot open request file %s: %s", path,
                             strerror(errno));
    size_t len;
    char *data = read_all(f, &len);
    if (f != stdin)
        fclose(f);
    if (!data)
        return cli_fail_code(c, LLMSVC_E_NOMEM, "out of memory reading %s", path);
    llmsvc_error *err = NULL;
    llmsvc_code rc = llmsvc_request_from_json(req, data, len, &err);
    free(data);
    if (rc != LLMSVC_OK) {
        int code = cli_fail(c, err);
        llmsvc_error_free(err);
        return code;
    }
    return EXIT_OK;
}

/* provider_options from KEY=VALUE pairs. */
static int add_option(json_object *opts, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return -1;
    char key[128];
    size_t klen = (size_t)(eq - arg);
    if (klen >= sizeof key)
        return -1;
    memcpy(key, arg, klen);
    key[klen] = '\0';
    json_object *v = json_tokener_parse(eq + 1);
    if (!v && strcmp(eq + 1, "null") != 0)
        v = json_object_new_string(eq + 1);
    json_object_object_add(opts, key, v);
    return 0;
}

static int apply(const char *cmd, llmsvc_request *req, const setting *s, json_object *opts)
{
    double x;
    long n;
    llmsvc_code rc = LLMSVC_OK;
    switch (s->opt) {
    case O_PROVIDER:
        rc = llmsvc_request_set_provider(req, s->arg);
        break;
    case O_MODEL:
        rc = llmsvc_request_set_model(req, s->arg);
        break;
    case O_INSTRUCTIONS:
        rc = llmsvc_request_set_instructions(req, s->arg);
        break;
    case O_TEMPERATURE:
    case O_TOP_P:
        if (cli_number(s->arg, &x) < 0)
            return cli_usage(cmd, "%s takes a number, not '%s'",
                             s->opt == O_TEMPERATURE ? "--temperature" : "--top-p", s->arg);
        rc = llmsvc_request_set_number(req, s->opt == O_TEMPERATURE ? "temperature" : "top_p", x);
        break;
    case O_TOP_K:
    case O_MAX_TOKENS:
    case O_SEED:
        if (cli_int(s->arg, &n) < 0)
            return cli_usage(cmd, "--%s takes a whole number, not '%s'",
                             s->opt == O_TOP_K ? "top-k" : s->opt == O_SEED ? "seed" : "max-tokens",
                             s->arg);
        rc = llmsvc_request_set_number(
            req, s->opt == O_TOP_K ? "top_k" : s->opt == O_SEED ? "seed" : "max_tokens", (double)n);
        break;
    case O_EFFORT:
        rc = llmsvc_request_set_string(req, "reasoning_effort", s->arg);
        break;
    case O_VERBOSITY:
        rc = llmsvc_request_set_string(req, "verbosity", s->arg);
        break;
    case O_STOP:
        rc = llmsvc_request_add_stop(req, s->arg);
        break;
    case O_BASE_URL:
        rc = llmsvc_request_set_base_url(req, s->arg);
        if (rc == LLMSVC_E_INVALID_ARG)
            return cli_usage(cmd,
                             "--base-url takes an http:// or https:// URL without query, "
                             "fragment or credentials, not '%s'",
                             s->arg);
        break;
    case O_TIMEOUT:
        if (cli_number(s->arg, &x) < 0 || x <= 0 || x > 86400)
            return cli_usage(cmd, "--timeout takes seconds (0 < s <= 86400), not '%s'", s->arg);
        rc = llmsvc_request_set_timeout_ms(req, (long)(x * 1000));
        break;
    case O_RETRIES:
        if (cli_int(s->arg, &n) < 0 || n < 0 || n > 100)
            return cli_usage(cmd, "--retries takes a whole number from 0 to 100, not '%s'",
                             s->arg);
        rc = llmsvc_request_set_max_retries(req, (int)n);
        break;
    case O_OPTION:
        if (add_option(opts, s->arg) < 0)
            return cli_usage(cmd, "--option takes KEY=VALUE, not '%s'", s->arg);
        break;
    default:
        break;
    }
    if (rc != LLMSVC_OK)
        return cli_usage(cmd, "bad value '%s'", s->arg);
    return EXIT_OK;
}

static void print_count(const char *label, int64_t v)
{
    if (v >= 0)
        fprintf(stderr, "%s %lld", label, (long long)v);
    else
        fprintf(stderr, "%s unknown", label);
}

/* The message, then each file-search result; with usage, a summary on stderr. */
static void print_text(const llmsvc_response *resp, int usage)
{
    const char *msg = llmsvc_response_message(resp);
    fputs(msg, stdout);
    if (!*msg || msg[strlen(msg) - 1] != '\n')
        putchar('\n');
    size_t n = llmsvc_response_file_result_count(resp);
    for (size_t i = 0; i < n; i++) {
        const llmsvc_file_result *f = llmsvc_response_file_result(resp, i);
        printf("%s[%zu] score %.4f  %s (%s)\n    ", i ? "" : "\nfile search results:\n", i + 1,
               f->score, f->filename, f->file_id);
        for (const char *p = f->text; *p; p++) /* indent every line of the passage */
            fputs(*p == '\n' ? "\n    " : (char[]){*p, 0}, stdout);
        putchar('\n');
    }
    if (!usage)
        return;
    fflush(stdout);
    print_count("tokens: input", llmsvc_response_tokens(resp, LLMSVC_TOKENS_INPUT));
    print_count(" (cached", llmsvc_response_tokens(resp, LLMSVC_TOKENS_CACHED_INPUT));
    print_count("), output", llmsvc_response_tokens(resp, LLMSVC_TOKENS_OUTPUT));
    print_count(" (reasoning", llmsvc_response_tokens(resp, LLMSVC_TOKENS_REASONING));
    print_count("), total", llmsvc_response_tokens(resp, LLMSVC_TOKENS_TOTAL));
    double cost = llmsvc_response_cost_usd(resp);
    if (cost >= 0)
        fprintf(stderr, "; cost $%.6f", cost);
    fprintf(stderr, "; %s; %.2f ms; %s/%s\n", llmsvc_response_finish_reason(resp),
            llmsvc_response_latency_ms(resp), llmsvc_response_provider(resp),
            llmsvc_response_model(resp));
}

int cmd_call(int argc, char **argv)
{
    cli_common c = {0};
    const char *request_file = NULL, *vector_store = NULL;
    int show_usage = 0;
    long max_results = 0;
    setting *sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    int opt, rc = EXIT_OK;
    llmsvc_request *req = NULL;
    llmsvc_runtime *rt = NULL;
    llmsvc_response *resp = NULL;
    json_object *opts = json_object_new_object();
    if (!sets || !opts) {
        rc = EXIT_OTHER;
        goto out;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            goto out;
        }
        if (cli_common_opt(&c, opt, optarg))
            continue;
        switch (opt) {
        case O_REQUEST:
            request_file = optarg;
            break;
        case O_VECTOR_STORE:
            vector_store = optarg;
            break;
        case O_USAGE:
            show_usage = 1;
            break;
        case O_MAX_RESULTS:
            if (cli_int(optarg, &max_results) < 0 || max_results < 1 || max_results > 1000) {
                rc = cli_usage("call", "--max-results takes a whole number from 1 to 1000");
                goto out;
            }
            break;
        case '?':
            rc = cli_usage("call", "unknown or incomplete option");
            goto out;
        default:
            sets[n_sets++] = (setting){opt, optarg};
        }
    }
    if (request_file) {
        if ((rc = load_request(&c, request_file, &req)) != EXIT_OK)
            goto out;
    } else if (llmsvc_request_new(&req) != LLMSVC_OK) {
        rc = EXIT_OTHER;
        goto out;
    }
    for (size_t i = 0; i < n_sets; i++) {
        if ((rc = apply("call", req, &sets[i], opts)) != EXIT_OK)
            goto out;
    }
    if (optind < argc) {
        size_t len = 0;
        for (int i = optind; i < argc; i++)
            len += strlen(argv[i]) + 1;
        char *prompt = malloc(len + 1);
        if (!prompt) {
            rc = EXIT_OTHER;
            goto out;
        }
        prompt[0] = '\0';
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                strcat(prompt, " ");
            strcat(prompt, argv[i]);
        }
        llmsvc_request_set_prompt(req, prompt);
        free(prompt);
    } else if (!request_file) {
        rc = cli_usage("call", "give a PROMPT or --request FILE");
        goto out;
    }
    if (vector_store)
        llmsvc_request_set_vector_store(req, vector_store, (int)max_results);
    else if (max_results)
        llmsvc_request_set_max_results(req, (int)max_results);
    if (json_object_object_length(opts)) {
        llmsvc_error *err = NULL;
        if (llmsvc_request_set_provider_options(
                req, json_object_to_json_string_ext(opts, JSON_C_TO_STRING_PLAIN), &err) !=
            LLMSVC_OK) {
            rc = cli_fail(&c, err);
            llmsvc_error_free(err);
            goto out;
        }
    }
    if ((rc = cli_open(&c, &rt)) != EXIT_OK)
        goto out;
    llmsvc_error *err = NULL;
    if (llmsvc_call(rt, req, &resp, &err) != LLMSVC_OK) {
        rc = cli_fail(&c, err);
        llmsvc_error_free(err);
        goto out;
    }
    if (c.json) {
        char *js = NULL;
        if (llmsvc_response_to_json(&js, resp) != LLMSVC_OK) {
            rc = EXIT_OTHER;
            goto out;
        }
        printf("%s\n", js);
        llmsvc_free(js);
    } else {
        print_text(resp, show_usage);
    }
out:
    json_object_put(opts);
    free(sets);
    llmsvc_response_free(resp);
    llmsvc_request_free(req);
    llmsvc_runtime_close(rt);
    return rc;
}
