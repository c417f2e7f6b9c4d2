/* fake_upstream.h - a loopback HTTP server that stands in for provider
 * endpoints (OpenAI, Anthropic, Gemini, ...) in the test-suite.
 *
 * The server answers each request from, in order: the script queue (entries
 * pushed with fake_upstream_script or POST /_fake/script), the routes in
 * <fixtures_dir>/routes.json, and finally a 404 in OpenAI's error shape.
 * It records every request it serves, except the /_fake/ control endpoints.
 * See README.md beside this file for the entry fields and faults.
 *
 * Every function is thread-safe while the server runs; none may be called on
 * a server after fake_upstream_stop. */
#ifndef FAKE_UPSTREAM_H
#define FAKE_UPSTREAM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fake_upstream fake_upstream;

/* Start on 127.0.0.1 at `port` (0 = any free port). fixtures_dir holds
 * routes.json (optional) and the fixture files; NULL means
 * FAKE_UPSTREAM_FIXTURES_DIR when the build defines it. Returns NULL on
 * failure (bad routes.json, missing route fixture, port in use), with the
 * reason on stderr. */
fake_upstream *fake_upstream_start(const char *fixtures_dir, unsigned short port);

/* Stop the server, wait for its threads, free everything. NULL-safe. Requests
 * still waiting out a delay_ms are dropped. */
void fake_upstream_stop(fake_upstream *fu);

/* The port actually bound (useful with port 0). */
unsigned short fake_upstream_port(const fake_upstream *fu);

/* "http://127.0.0.1:PORT"; owned by the server, valid until stop. */
const char *fake_upstream_url(const fake_upstream *fu);

/* Append script entries: `json` is one entry object or an array of them.
 * All or nothing: returns 0, or -1 (nothing appended, reason on stderr) when
 * the JSON is malformed, a field is invalid or a fixture cannot be read. */
int fake_upstream_script(fake_upstream *fu, const char *json);

/* Drop every pending script entry and every recorded request; the request
 * count restarts at 0. Routes stay. */
void fake_upstream_reset(fake_upstream *fu);

/* Requests recorded since start or the last reset. This keeps counting past
 * the 100,000 that fake_upstream_requests_json retains. */
size_t fake_upstream_request_count(fake_upstream *fu);

/* The retained requests, oldest first, as a JSON array of
 * {"method","path","query","at_ms","headers":{lowercased name: value},"body"}
 * (at_ms: when the request arrived, CLOCK_MONOTONIC milliseconds).
 * malloc'd; the caller free()s it. NULL only when out of memory. */
char *fake_upstream_requests_json(fake_upstream *fu);

#ifdef __cplusplus
}
#endif

#endif /* FAKE_UPSTREAM_H */
