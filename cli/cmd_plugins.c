/* llmsvc plugins — every plugin file tried, loaded or refused and why. */
#include <json-c/json.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llmsvc plugins [--json]\n"
    "\n"
    "Lists every plugin file the loader tried, in load order: path, loaded or\n"
    "refused, protocols, plugin version, ABI and the reason for a refusal.\n"
    "Folders: --plugin-path, then LLMSVC_PLUGIN_PATH, then the default folder.\n"
    "\n" CLI_COMMON_HELP;

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    if (json_object_object_get_ex(o, key, &v) && v)
        return json_object_get_string(v);
    return "-";
}

int cmd_plugins(int argc, char **argv)
{
    cli_common c = {0};
    int done = cli_common_only("plugins", usage_text, argc, argv, &c);
    if (done >= 0)
        return done;
    c.quiet = 1; /* refusals are the output here, not warnings */
    llmsvc_runtime *rt;
    int rc = cli_open(&c, &rt);
    if (rc != EXIT_OK)
        return rc;
    char *js = NULL;
    llmsvc_error *err = NULL;
    if (llmsvc_runtime_plugins_json(&js, rt, &err) != LLMSVC_OK) {
        rc = cli_fail(&c, err);
        llmsvc_error_free(err);
    } else if (c.json) {
        printf("%s\n", js);
    } else {
        json_object *a = json_tokener_parse(js);
        size_t n = json_object_array_length(a);
        if (!n)
            printf("no plugin files found\n");
        for (size_t i = 0; i < n; i++) {
            json_object *p = json_object_array_get_idx(a, i), *protos;
            json_object_object_get_ex(p, "protocols", &protos);
            printf("%s\n  %s", str(p, "path"), str(p, "status"));
            if (json_object_array_length(protos)) {
                printf(": ");
                for (size_t j = 0; j < json_object_array_length(protos); j++)
                    printf("%s%s", j ? ", " : "",
                           json_object_get_string(json_object_array_get_idx(protos, j)));
                printf(" (%s %s, ABI %s)", str(p, "name"), str(p, "version"), str(p, "abi"));
            } else {
                printf(": %s", str(p, "reason"));
            }
            putchar('\n');
        }
        json_object_put(a);
    }
    llmsvc_free(js);
    llmsvc_runtime_close(rt);
    return rc;
}
