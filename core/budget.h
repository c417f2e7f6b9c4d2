/* budget — spending budgets in USD per project and per organization, per UTC
 * day and month, as the routes files' `budgets:` declare (specs/README.md
 * "Budgets").
 *
 * Before each call, the spend so far is compared with every budget of the
 * call's project and organization; an exhausted one refuses the call with
 * BUDGET_EXCEEDED naming the budget and what was spent. The spend is the
 * store's call records when the runtime has a store (so every process and
 * worker using it counts), else this process's own calls since it started.
 * A call is counted when it ends: callers racing past the check together
 * can overshoot a budget by at most the cost of the calls in flight. */
#ifndef LLMSVC_BUDGET_H
#define LLMSVC_BUDGET_H

#include "llmsvc/llmsvc.h"
#include "registry.h"

typedef struct ledger ledger;

ledger *ledger_new(void);
void ledger_free(ledger *l);

llmsvc_code budget_check(llmsvc_runtime *rt, const registry *reg, const llmsvc_request *req,
                         llmsvc_error **err);
/* Counts a finished call's cost in this process (without a store). */
void budget_charge(llmsvc_runtime *rt, const registry *reg, const llmsvc_request *req,
                   double cost_usd);

#endif
