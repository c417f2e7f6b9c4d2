/* The public headers compile alone, strictly (-std=c11 -pedantic-errors
 * -Werror, and as C++), in either order, twice. */
#include <llmsvc/plugin.h>
#include <llmsvc/llmsvc.h>
#include <llmsvc/plugin.h>

int main(void)
{
    llmsvc_options o = LLMSVC_OPTIONS_INIT;
    llmsvc_job_options j = LLMSVC_JOB_OPTIONS_INIT;
    llmsvc_worker_options w = LLMSVC_WORKER_OPTIONS_INIT;
    llmsvc_records_filter f = LLMSVC_RECORDS_FILTER_INIT;
    llmsvc_usage u = LLMSVC_USAGE_INIT;
    return (int)(o.version + j.version + w.version + f.version + u.size) == 0;
}
