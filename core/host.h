/* host — the function table plugins call (plugin.h's llmsvc_host), and the
 * thread's current runtime so that a plugin's host->log reaches the logger of
 * the runtime that called it. */
#ifndef LLMSVC_HOST_H
#define LLMSVC_HOST_H

#include "llmsvc/llmsvc.h"

/* Sets the calling thread's runtime; returns the previous one to restore. */
const llmsvc_runtime *host_enter(const llmsvc_runtime *rt);

#endif
