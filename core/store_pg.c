/* store_pg_stub — built instead of store_pg.c without LLMSVC_WITH_POSTGRES. */
#include "error.h"
#include "store.h"

static llmsvc_code pg_connect(const char *url, store_conn **out, llmsvc_error **err)
{
    (void)url;
    (void)out;
    return err_set(err, LLMSVC_E_STORE,
                   "this llmsvc was built without PostgreSQL (LLMSVC_WITH_POSTGRES=OFF)");
}

const store_engine store_pg_engine = {.name = "postgres", .connect = pg_connect};
