/*  flot_template.c - the template expander shared by the health actor and
    the analyzer: finds {placeholders} in operator strings, checks their
    names when a spec is parsed, and fills them from a target's CONTEXT when
    a probe or a query runs. See flotilla/template.h for the syntax.
*/
#include "flotilla/template.h"

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

//  The string field key of map (with key_size bytes), or NULL if absent or
//  not a string without NUL bytes.
static const msgpack_object_str *
s_field (const msgpack_object *map, const char *key, size_t key_size)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        const msgpack_object *v = &map->via.map.ptr [i].val;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_size
        &&  memcmp (k->via.str.ptr, key, key_size) == 0) {
            if (v->type != MSGPACK_OBJECT_STR
            ||  memchr (v->via.str.ptr, 0, v->via.str.size))
                return NULL;
            return &v->via.str;
        }
    }
    return NULL;
}

static const msgpack_object *
s_labels (const msgpack_object *context)
{
    if (!context || context->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < context->via.map.size; i++) {
        const msgpack_object *k = &context->via.map.ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 6
        &&  memcmp (k->via.str.ptr, "labels", 6) == 0)
            return &context->via.map.ptr [i].val;
    }
    return NULL;
}

char *
flot_template_expand (const char *tmpl, const msgpack_object *context,
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
        const msgpack_object_str *value;
        if (size > 6 && strncmp (name, "label.", 6) == 0) {
            value = s_field (s_labels (context), name + 6, size - 6);
            if (!value) {
                snprintf (err, err_cap, "{%.*s}: the target has no label '%.*s'",
                          (int) size, name, (int) size - 6, name + 6);
                free (buf.data);
                return NULL;
            }
        }
        else {
            value = s_field (context, name, size);
            if (!value) {
                snprintf (err, err_cap, "{%.*s}: the target has no %s", (int) size, name,
                          size == 7 && strncmp (name, "address", 7) == 0 ? "address"
                        : size == 15 ? "previous version"
                        : size == 7 ? "version"
                        : size == 10 ? "deployment" : "name");
                free (buf.data);
                return NULL;
            }
        }
        s_add (&buf, value->ptr, value->size);
    }
    return buf.data;
}
