/* request_opts — the call options shared by `llmsvc call` and `llmsvc job
 * submit`: parsed once, turned into an llmsvc_request. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
    O_USAGE,
    O_STORE,
    O_PROJECT,
    O_ORG,
    O_IDEMPOTENCY,
    O_MAX_ATTEMPTS,
    O_STREAM,
    O_TOOLS,
    O_TOOL_CHOICE,
    O_JSON_SCHEMA,
    O_HEADER,
    O_ROUTE,
    O_USER,
    O_STICKY_KEY,
    O_NO_CACHE
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
    {"store", required_argument, NULL, O_STORE},
    {"project", required_argument, NULL, O_PROJECT},
    {"org", required_argument, NULL, O_ORG},
    {"idempotency-key", required_argument, NULL, O_IDEMPOTENCY},
    {"max-attempts", required_argument, NULL, O_MAX_ATTEMPTS},
    {"stream", no_argument, NULL, O_STREAM},
    {"tools", required_argument, NULL, O_TOOLS},
    {"tool-choice", required_argument, NULL, O_TOOL_CHOICE},
    {"json-schema", required_argument, NULL, O_JSON_SCHEMA},
    {"header", required_argument, NULL, O_HEADER},
    {"route", required_argument, NULL, O_ROUTE},
    {"user", required_argument, NULL, O_USER},
    {"sticky-key", required_argument, NULL, O_STICKY_KEY},
    {"no-cache", no_argument, NULL, O_NO_CACHE},
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

/* --tools FILE: a JSON list of {name, description, parameters} (or OpenAI's
 * {type: "function", function: {...}}); --json-schema FILE: a JSON Schema. */
static int apply_file(const char *cmd, llmsvc_request *req, const setting *s)
{
    json_object *doc = json_object_from_file(s->arg);
    if (!doc)
        return cli_usage(cmd, "cannot read JSON from %s", s->arg);
    int rc = EXIT_OK;
    llmsvc_error *err = NULL;
    if (s->opt == O_JSON_SCHEMA) {
        const char *base = strrchr(s->arg, '/') ? strrchr(s->arg, '/') + 1 : s->arg;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
        if (llmsvc_request_set_response_format(req, name,
                                               json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN),
                                               1, &err) != LLMSVC_OK)
            rc = cli_usage(cmd, "%s: %s", s->arg, llmsvc_error_message(err));
    } else if (!json_object_is_type(doc, json_type_array)) {
        rc = cli_usage(cmd, "%s must hold a JSON list of tools", s->arg);
    } else {
        for (size_t i = 0; rc == EXIT_OK && i < json_object_array_length(doc); i++) {
            json_object *t = json_object_array_get_idx(doc, i), *f, *v;
            if (json_object_object_get_ex(t, "function", &f))
                t = f;
            const char *name = json_object_object_get_ex(t, "name", &v) ? json_object_get_string(v) : NULL;
            const char *desc = json_object_object_get_ex(t, "description", &v) ? json_object_get_string(v) : NULL;
            const char *params = json_object_object_get_ex(t, "parameters", &v)
                                     ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)
                                     : NULL;
            if (llmsvc_request_add_tool(req, name, desc, params, &err) != LLMSVC_OK)
                rc = cli_usage(cmd, "%s: tool %zu: %s", s->arg, i + 1, llmsvc_error_message(err));
        }
    }
    llmsvc_error_free(err);
    json_object_put(doc);
    return rc;
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
    case O_TOOL_CHOICE:
        rc = llmsvc_request_set_tool_choice(req, s->arg);
        break;
    case O_ROUTE:
        rc = llmsvc_request_set_route(req, s->arg);
        break;
    case O_USER:
        rc = llmsvc_request_set_user(req, s->arg);
        break;
    case O_STICKY_KEY:
        rc = llmsvc_request_set_sticky_key(req, s->arg);
        break;
    case O_NO_CACHE:
        rc = llmsvc_request_set_cache(req, 0);
        break;
    case O_HEADER: {
        /* as curl's -H: "Name: value" */
        const char *colon = strchr(s->arg, ':');
        char name[256];
        size_t nlen = colon ? (size_t)(colon - s->arg) : 0;
        if (!colon || !nlen || nlen >= sizeof name)
            return cli_usage(cmd, "--header takes 'Name: value', not '%s'", s->arg);
        memcpy(name, s->arg, nlen);
        name[nlen] = '\0';
        const char *value = colon + 1;
        while (*value == ' ')
            value++;
        if (llmsvc_request_add_header(req, name, value) != LLMSVC_OK)
            return cli_usage(cmd, "--header '%s' is not a valid HTTP header", name);
        break;
    }
    case O_TOOLS:
    case O_JSON_SCHEMA:
        return apply_file(cmd, req, s);
    default:
        break;
    }
    if (rc != LLMSVC_OK)
        return cli_usage(cmd, "bad value '%s'", s->arg);
    return EXIT_OK;
}


static int set_prompt_from_args(llmsvc_request *req, int argc, char **argv)
{
    size_t len = 0;
    for (int i = optind; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *prompt = malloc(len + 1);
    if (!prompt)
        return -1;
    prompt[0] = '\0';
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            strcat(prompt, " ");
        strcat(prompt, argv[i]);
    }
    llmsvc_code rc = llmsvc_request_set_prompt(req, prompt);
    free(prompt);
    return rc == LLMSVC_OK ? 0 : -1;
}

int call_args_parse(const char *cmd, const char *usage_text, int argc, char **argv, call_args *a)
{
    memset(a, 0, sizeof *a);
    const char *request_file = NULL, *vector_store = NULL;
    long max_results = 0;
    setting *sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    int opt, rc = EXIT_OK;
    json_object *opts = json_object_new_object();
    if (!sets || !opts) {
        rc = EXIT_OTHER;
        goto out;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            a->help = 1;
            goto out;
        }
        if (cli_common_opt(&a->c, opt, optarg))
            continue;
        switch (opt) {
        case O_REQUEST:
            request_file = optarg;
            break;
        case O_VECTOR_STORE:
            vector_store = optarg;
            break;
        case O_USAGE:
            a->show_usage = 1;
            break;
        case O_STREAM:
            a->stream = 1;
            break;
        case O_STORE:
            a->store = optarg;
            break;
        case O_PROJECT:
            a->project = optarg;
            break;
        case O_ORG:
            a->org = optarg;
            break;
        case O_IDEMPOTENCY:
            a->idempotency_key = optarg;
            break;
        case O_MAX_ATTEMPTS:
            if (cli_int(optarg, &a->max_attempts) < 0 || a->max_attempts < 1 ||
                a->max_attempts > 100) {
                rc = cli_usage(cmd, "--max-attempts takes a whole number from 1 to 100");
                goto out;
            }
            break;
        case O_MAX_RESULTS:
            if (cli_int(optarg, &max_results) < 0 || max_results < 1 || max_results > 1000) {
                rc = cli_usage(cmd, "--max-results takes a whole number from 1 to 1000");
                goto out;
            }
            break;
        case '?':
            rc = cli_usage(cmd, "unknown or incomplete option");
            goto out;
        default:
            sets[n_sets++] = (setting){opt, optarg};
        }
    }
    if (request_file) {
        if ((rc = load_request(&a->c, request_file, &a->req)) != EXIT_OK)
            goto out;
    } else if (llmsvc_request_new(&a->req) != LLMSVC_OK) {
        rc = EXIT_OTHER;
        goto out;
    }
    for (size_t i = 0; i < n_sets; i++) {
        if ((rc = apply(cmd, a->req, &sets[i], opts)) != EXIT_OK)
            goto out;
    }
    if (optind < argc) {
        if (set_prompt_from_args(a->req, argc, argv) < 0) {
            rc = EXIT_OTHER;
            goto out;
        }
    } else if (!request_file) {
        rc = cli_usage(cmd, "give a PROMPT or --request FILE");
        goto out;
    }
    if (vector_store)
        llmsvc_request_set_vector_store(a->req, vector_store, (int)max_results);
    else if (max_results)
        llmsvc_request_set_max_results(a->req, (int)max_results);
    if (a->project || a->org)
        llmsvc_request_set_project(a->req, a->project, a->org);
    if (json_object_object_length(opts)) {
        llmsvc_error *err = NULL;
        if (llmsvc_request_set_provider_options(
                a->req, json_object_to_json_string_ext(opts, JSON_C_TO_STRING_PLAIN), &err) !=
            LLMSVC_OK) {
            rc = cli_fail(&a->c, err);
            llmsvc_error_free(err);
            goto out;
        }
    }
out:
    json_object_put(opts);
    free(sets);
    return rc;
}

void call_args_free(call_args *a)
{
    llmsvc_request_free(a->req);
    a->req = NULL;
}
