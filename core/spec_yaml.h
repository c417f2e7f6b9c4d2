/* spec_yaml — one YAML spec file → one provider_spec (schema: specs/README.md).
 * Every problem found is added to probs as "file:line:col: message". */
#ifndef LLMSVC_SPEC_YAML_H
#define LLMSVC_SPEC_YAML_H

#include "problems.h"
#include "spec.h"

/* Parses len bytes of data; file names the source in messages. NULL when the
 * file has any problem (all of them are in probs). */
provider_spec *spec_parse(const char *file, const char *data, size_t len, problems *probs);

struct ydoc;
/* The same for a document already read. */
provider_spec *spec_parse_doc(struct ydoc *d);

#endif
