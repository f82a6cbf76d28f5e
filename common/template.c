/*  template.c - the template expander shared by the health actor and
    the analyzer, and by the healthChecks and analysis section parsers
    (common/health_checks.c, common/analysis_section.c), which the spec
    parser uses too. Part of common/ (the flot_common library: pure code, no
    actor, no I/O). It finds {placeholders} in operator strings, checks their
    names when a spec is parsed, and fills them from a target's CONTEXT when
    a probe or a query runs. A CONTEXT is the health contract's, as its
    codec decoded it (flot_health_context_t); flot_context_copy gives a
    monitor or an analysis run one of its own, in its zone, to outlive the
    request it came in. See flotilla/template.h for the syntax.
*/
#include "flotilla/template.h"

#include <assert.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_names [] = {
    "target", "address", "version", "previousVersion", "deployment", "role", NULL
};

//  A placeholder found at p (which points at '{'): its name (name, size)
//  and the length of the whole text. Returns 1 if p starts a placeholder,
//  0 if the brace is literal, -1 for "{label.}" (a label with no key).
static int
s_scan (const char *p, const char **name, size_t *name_size, size_t *length)
{
    const char *q = p + 1;
    if (!isalpha ((unsigned char) *q))
        return 0;
    while (isalnum ((unsigned char) *q))
        q++;
    if ((size_t) (q - p - 1) == 5 && strncmp (p + 1, "label", 5) == 0 && *q == '.') {
        const char *key = ++q;
        while (isalnum ((unsigned char) *q) || *q == '_' || *q == '.' || *q == '/' || *q == '-')
            q++;
        if (q == key)
            return *q == '}' ? -1 : 0;
    }
    if (*q != '}')
        return 0;
    *name = p + 1;
    *name_size = (size_t) (q - p - 1);
    *length = (size_t) (q - p + 1);
    return 1;
}

static bool
s_known (const char *name, size_t size)
{
    if (size > 6 && strncmp (name, "label.", 6) == 0)
        return true;
    for (const char **n = s_names; *n; n++)
        if (strlen (*n) == size && strncmp (*n, name, size) == 0)
            return true;
    return false;
}

int
flot_template_check (const char *tmpl, char *err, size_t err_cap)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p != '{')
            continue;
        if (p [1] == '{') {
            p++;
            continue;
        }
        const char *name;
        size_t size, length;
        int found = s_scan (p, &name, &size, &length);
        if (found < 0) {
            snprintf (err, err_cap, "{label.}: a label placeholder needs a key, "
                      "as in {label.zone}");
            return -1;
        }
        if (found && !s_known (name, size)) {
            snprintf (err, err_cap, "{%.*s} is not a known placeholder (known: {target}, "
                      "{address}, {version}, {previousVersion}, {deployment}, {role}, "
                      "{label.KEY}; write {{ for a literal brace)", (int) size, name);
            return -1;
        }
        if (found)
            p += length - 1;
    }
    return 0;
}

//  A growing string.
typedef struct {
    char *data;
    size_t size, cap;
} buf_t;

static void
s_add (buf_t *buf, const char *data, size_t size)
{
    if (buf->size + size + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 64;
        while (cap < buf->size + size + 1)
            cap *= 2;
        char *grown = realloc (buf->data, cap);
        if (!grown)
            abort ();
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy (buf->data + buf->size, data, size);
    buf->size += size;
    buf->data [buf->size] = 0;
}

static bool
s_is (const char *name, size_t size, const char *word)
{
    return strlen (word) == size && memcmp (name, word, size) == 0;
}

//  The value of context (may be NULL) for a placeholder's name, other than
//  {role}: a field, or for {label.KEY} a label. NULL when it has none.
static const char *
s_value (const flot_health_context_t *context, const char *name, size_t size)
{
    if (!context)
        return NULL;
    if (size > 6 && strncmp (name, "label.", 6) == 0) {
        const flot_strmap_t *labels = &context->labels;
        for (size_t i = 0; i < labels->count; i++) {
            const char *key = labels->items [i].key;
            if (key && s_is (name + 6, size - 6, key))
                return labels->items [i].value;
        }
        return NULL;
    }
    return s_is (name, size, "target") ? context->target
         : s_is (name, size, "address") ? context->address
         : s_is (name, size, "version") ? context->version
         : s_is (name, size, "previousVersion") ? context->previous_version
         : s_is (name, size, "deployment") ? context->deployment : NULL;
}

char *
flot_template_expand (const char *tmpl, const flot_health_context_t *context,
                      const char *role, char *err, size_t err_cap)
{
    if (flot_template_check (tmpl, err, err_cap))
        return NULL;
    buf_t buf = { NULL, 0, 0 };
    s_add (&buf, "", 0);
    const char *p = tmpl;
    while (*p) {
        const char *brace = strchr (p, '{');
        if (!brace) {
            s_add (&buf, p, strlen (p));
            break;
        }
        s_add (&buf, p, (size_t) (brace - p));
        const char *name;
        size_t size, length;
        if (brace [1] == '{') {
            s_add (&buf, "{", 1);
            p = brace + 2;
            continue;
        }
        if (s_scan (brace, &name, &size, &length) != 1) {
            s_add (&buf, "{", 1);
            p = brace + 1;
            continue;
        }
        p = brace + length;
        if (size == 4 && strncmp (name, "role", 4) == 0) {
            if (!role) {
                snprintf (err, err_cap, "{role}: there is no role here (only analysis "
                          "queries of a canary judge have one)");
                free (buf.data);
                return NULL;
            }
            s_add (&buf, role, strlen (role));
            continue;
        }
        const char *value = s_value (context, name, size);
        if (!value) {
            if (size > 6 && strncmp (name, "label.", 6) == 0)
                snprintf (err, err_cap, "{%.*s}: the target has no label '%.*s'",
                          (int) size, name, (int) size - 6, name + 6);
            else
                snprintf (err, err_cap, "{%.*s}: the target has no %s", (int) size, name,
                          size == 7 && strncmp (name, "address", 7) == 0 ? "address"
                        : size == 15 ? "previous version"
                        : size == 7 ? "version"
                        : size == 10 ? "deployment" : "name");
            free (buf.data);
            return NULL;
        }
        s_add (&buf, value, strlen (value));
    }
    return buf.data;
}

//  A copy of the string src in zone, or NULL (with *ok false when out of
//  memory) for NULL.
static const char *
s_str_copy (const char *src, msgpack_zone *zone, bool *ok)
{
    if (!src)
        return NULL;
    size_t size = strlen (src) + 1;
    char *copy = msgpack_zone_malloc_no_align (zone, size);
    if (!copy) {
        *ok = false;
        return NULL;
    }
    memcpy (copy, src, size);
    return copy;
}

flot_health_context_t *
flot_context_copy (const flot_health_context_t *context, msgpack_zone *zone)
{
    assert (context);
    assert (zone);
    flot_health_context_t *copy = msgpack_zone_malloc (zone, sizeof *copy);
    if (!copy)
        return NULL;
    bool ok = true;
    *copy = (flot_health_context_t) {
        .target = s_str_copy (context->target, zone, &ok),
        .address = s_str_copy (context->address, zone, &ok),
        .version = s_str_copy (context->version, zone, &ok),
        .previous_version = s_str_copy (context->previous_version, zone, &ok),
        .deployment = s_str_copy (context->deployment, zone, &ok)
    };
    size_t count = context->labels.count;
    if (count) {
        flot_strpair_t *labels = msgpack_zone_malloc (zone, count * sizeof *labels);
        if (!labels)
            return NULL;
        for (size_t i = 0; i < count; i++) {
            labels [i].key = s_str_copy (context->labels.items [i].key, zone, &ok);
            labels [i].value = s_str_copy (context->labels.items [i].value, zone, &ok);
        }
        copy->labels = (flot_strmap_t) { count, labels };
    }
    return ok ? copy : NULL;
}
