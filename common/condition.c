/*  condition.c - the condition expressions of the `analysis` section
    (Argo Rollouts style): `result < 0.05`, `len(result) > 0 && !isNaN(result[1])`.

    Part of common/ (the flot_common library: pure code, no actor, no I/O).
    The analysis section parser (common/analysis_section.c) parses each
    metric's conditions with it, for the spec parser and the analyzer alike;
    the analyzer's threshold rules (actors/analyzer/threshold.c) evaluate
    them. A recursive-descent parser over operator-writer input (hostile: the
    spec comes from anyone who may apply one), with a nesting limit and a
    size limit, into a small tree kept in one array; then a typed evaluator
    over a measurement's values. The grammar is in flotilla/condition.h.
    Errors name the column (from 1) where the parser stopped.
*/
#include "flotilla/condition.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

typedef enum {
    N_NUM, N_BOOL, N_RESULT, N_LEN, N_ISNAN, N_ISINF, N_NEG, N_NOT,
    N_ADD, N_SUB, N_MUL, N_DIV, N_LT, N_LE, N_GT, N_GE, N_EQ, N_NE, N_AND, N_OR
} node_kind_t;

typedef struct {
    node_kind_t kind;
    double number;              //  N_NUM, N_BOOL (0 or 1)
    size_t index;               //  N_RESULT: which value
    int left, right;            //  children, -1 if none
    int column;                 //  where it starts, for errors
} node_t;

struct _flot_condition_t {
    char *text;
    node_t *nodes;
    size_t count, cap;
    int root;
};

//  --------------------------------------------------------------------------
//  Parser

typedef struct {
    flot_condition_t *cond;
    const char *text;
    size_t at;
    int depth;
    char *err;
    size_t err_cap;
    bool failed;
} parser_t;

static int
s_fail (parser_t *p, size_t at, const char *format, ...)
{
    if (!p->failed) {
        p->failed = true;
        char sentence [200];
        va_list args;
        va_start (args, format);
        vsnprintf (sentence, sizeof sentence, format, args);
        va_end (args);
        snprintf (p->err, p->err_cap, "column %zu: %s", at + 1, sentence);
    }
    return -1;
}

static void
s_skip_space (parser_t *p)
{
    while (p->text [p->at] == ' ' || p->text [p->at] == '\t'
       ||  p->text [p->at] == '\n' || p->text [p->at] == '\r')
        p->at++;
}

static int
s_node (parser_t *p, node_kind_t kind, int left, int right, size_t column)
{
    flot_condition_t *c = p->cond;
    assert (c->count < c->cap);
    node_t *node = &c->nodes [c->count];
    memset (node, 0, sizeof *node);
    node->kind = kind;
    node->left = left;
    node->right = right;
    node->column = (int) column + 1;
    return (int) c->count++;
}

//  The next word ([A-Za-z_][A-Za-z0-9_]*) at the cursor, without moving.
static size_t
s_word (parser_t *p, char *word, size_t cap)
{
    size_t n = 0;
    const char *s = p->text + p->at;
    if (!isalpha ((unsigned char) s [0]) && s [0] != '_')
        return 0;
    while (isalnum ((unsigned char) s [n]) || s [n] == '_')
        n++;
    if (n < cap) {
        memcpy (word, s, n);
        word [n] = 0;
    }
    else
        snprintf (word, cap, "%.*s", (int) cap - 1, s);
    return n;
}

//  True (and consumes it) if the input continues with the operator op;
//  a word operator must not run into more letters.
static bool
s_accept (parser_t *p, const char *op)
{
    s_skip_space (p);
    size_t n = strlen (op);
    if (strncmp (p->text + p->at, op, n) != 0)
        return false;
    if (isalpha ((unsigned char) op [0])) {
        char c = p->text [p->at + n];
        if (isalnum ((unsigned char) c) || c == '_')
            return false;
    }
    //  `<` must not take the first half of `<=`, nor `!` of `!=`, nor `=`.
    if ((streq (op, "<") || streq (op, ">") || streq (op, "!"))
    &&  p->text [p->at + n] == '=')
        return false;
    p->at += n;
    return true;
}

static int s_or (parser_t *p);

static int
s_enter (parser_t *p)
{
    if (++p->depth > FLOT_CONDITION_DEPTH)
        return s_fail (p, p->at, "the expression nests deeper than %d levels",
                       FLOT_CONDITION_DEPTH);
    return 0;
}

static int
s_number (parser_t *p)
{
    const char *s = p->text + p->at;
    size_t n = 0;
    while (isdigit ((unsigned char) s [n]) || s [n] == '.')
        n++;
    if ((s [n] == 'e' || s [n] == 'E')
    &&  (isdigit ((unsigned char) s [n + 1])
    ||  ((s [n + 1] == '+' || s [n + 1] == '-') && isdigit ((unsigned char) s [n + 2])))) {
        n += 2;
        while (isdigit ((unsigned char) s [n]))
            n++;
    }
    if (n > 64)
        return s_fail (p, p->at, "a number of more than 64 characters");
    char copy [65];
    memcpy (copy, s, n);
    copy [n] = 0;
    char *end;
    errno = 0;
    double value = strtod (copy, &end);
    if (*end || n == 0)
        return s_fail (p, p->at, "'%s' is not a number", copy);
    if (isinf (value))
        return s_fail (p, p->at, "%s is out of the range of a double", copy);
    int node = s_node (p, N_NUM, -1, -1, p->at);
    p->cond->nodes [node].number = value;
    p->at += n;
    return node;
}

static int
s_primary (parser_t *p)
{
    s_skip_space (p);
    size_t start = p->at;
    char c = p->text [p->at];
    if (c == '(') {
        p->at++;
        int inner = s_or (p);
        if (inner < 0)
            return -1;
        if (!s_accept (p, ")"))
            return s_fail (p, p->at, "expected ')' to close the '(' of column %zu", start + 1);
        return inner;
    }
    if (isdigit ((unsigned char) c) || (c == '.' && isdigit ((unsigned char) p->text [p->at + 1])))
        return s_number (p);
    char word [32];
    size_t n = s_word (p, word, sizeof word);
    if (n == 0) {
        if (c == 0)
            return s_fail (p, p->at, "the expression ends where a value was expected");
        return s_fail (p, p->at, "expected a number, `result`, a function or '(', not '%c'", c);
    }
    p->at += n;
    if (streq (word, "true") || streq (word, "false")) {
        int node = s_node (p, N_BOOL, -1, -1, start);
        p->cond->nodes [node].number = streq (word, "true");
        return node;
    }
    if (streq (word, "result")) {
        int node = s_node (p, N_RESULT, -1, -1, start);
        if (s_accept (p, "[")) {
            s_skip_space (p);
            size_t at = p->at, digits = 0;
            while (isdigit ((unsigned char) p->text [p->at + digits]))
                digits++;
            if (digits == 0 || digits > 9)
                return s_fail (p, at, "expected an index of 0 to 999999999 after 'result['");
            p->cond->nodes [node].index = strtoul (p->text + at, NULL, 10);
            p->at += digits;
            if (!s_accept (p, "]"))
                return s_fail (p, p->at, "expected ']'");
        }
        return node;
    }
    node_kind_t kind;
    if (streq (word, "len"))
        kind = N_LEN;
    else
    if (streq (word, "isNaN"))
        kind = N_ISNAN;
    else
    if (streq (word, "isInf"))
        kind = N_ISINF;
    else
        return s_fail (p, start, "unknown name '%s' (expected result, len, isNaN, isInf, "
                       "true, false)", word);
    if (!s_accept (p, "("))
        return s_fail (p, p->at, "expected '(' after '%s'", word);
    int arg;
    if (kind == N_LEN) {
        s_skip_space (p);
        size_t at = p->at;
        char name [32];
        size_t wn = s_word (p, name, sizeof name);
        if (wn == 0 || !streq (name, "result"))
            return s_fail (p, at, "len() takes `result`");
        p->at += wn;
        arg = -1;
    }
    else
    if ((arg = s_or (p)) < 0)
        return -1;
    if (!s_accept (p, ")"))
        return s_fail (p, p->at, "expected ')' to close %s(", word);
    return s_node (p, kind, arg, -1, start);
}

static int
s_unary (parser_t *p)
{
    if (s_enter (p))
        return -1;
    s_skip_space (p);
    size_t start = p->at;
    int node;
    if (s_accept (p, "-")) {
        int operand = s_unary (p);
        node = operand < 0 ? -1 : s_node (p, N_NEG, operand, -1, start);
    }
    else
        node = s_primary (p);
    p->depth--;
    return node;
}

static int
s_product (parser_t *p)
{
    int left = s_unary (p);
    while (left >= 0) {
        size_t at = (s_skip_space (p), p->at);
        node_kind_t kind;
        if (s_accept (p, "*"))
            kind = N_MUL;
        else
        if (s_accept (p, "/"))
            kind = N_DIV;
        else
            break;
        int right = s_unary (p);
        left = right < 0 ? -1 : s_node (p, kind, left, right, at);
    }
    return left;
}

static int
s_sum (parser_t *p)
{
    int left = s_product (p);
    while (left >= 0) {
        size_t at = (s_skip_space (p), p->at);
        node_kind_t kind;
        if (s_accept (p, "+"))
            kind = N_ADD;
        else
        if (s_accept (p, "-"))
            kind = N_SUB;
        else
            break;
        int right = s_product (p);
        left = right < 0 ? -1 : s_node (p, kind, left, right, at);
    }
    return left;
}

static int
s_compare (parser_t *p)
{
    int left = s_sum (p);
    if (left < 0)
        return -1;
    static const struct { const char *op; node_kind_t kind; } ops [] = {
        { "<=", N_LE }, { ">=", N_GE }, { "==", N_EQ }, { "!=", N_NE },
        { "<", N_LT }, { ">", N_GT }
    };
    size_t at = (s_skip_space (p), p->at);
    for (size_t i = 0; i < sizeof ops / sizeof ops [0]; i++)
        if (s_accept (p, ops [i].op)) {
            int right = s_sum (p);
            if (right < 0)
                return -1;
            int node = s_node (p, ops [i].kind, left, right, at);
            s_skip_space (p);
            char c = p->text [p->at];
            if (c == '<' || c == '>' || (c == '=' && p->text [p->at + 1] == '=')
            ||  (c == '!' && p->text [p->at + 1] == '='))
                return s_fail (p, p->at, "comparisons do not chain; use && between them");
            return node;
        }
    if (p->text [at] == '=' )
        return s_fail (p, at, "'=' is not an operator; use '==' to compare");
    return left;
}

static int
s_not (parser_t *p)
{
    if (s_enter (p))
        return -1;
    s_skip_space (p);
    size_t start = p->at;
    int node;
    if (s_accept (p, "!") || s_accept (p, "not")) {
        int operand = s_not (p);
        node = operand < 0 ? -1 : s_node (p, N_NOT, operand, -1, start);
    }
    else
        node = s_compare (p);
    p->depth--;
    return node;
}

static int
s_and (parser_t *p)
{
    int left = s_not (p);
    while (left >= 0) {
        size_t at = (s_skip_space (p), p->at);
        if (!s_accept (p, "&&") && !s_accept (p, "and"))
            break;
        int right = s_not (p);
        left = right < 0 ? -1 : s_node (p, N_AND, left, right, at);
    }
    return left;
}

static int
s_or (parser_t *p)
{
    if (s_enter (p))
        return -1;
    int left = s_and (p);
    while (left >= 0) {
        size_t at = (s_skip_space (p), p->at);
        if (!s_accept (p, "||") && !s_accept (p, "or"))
            break;
        int right = s_and (p);
        left = right < 0 ? -1 : s_node (p, N_OR, left, right, at);
    }
    p->depth--;
    return left;
}

flot_condition_t *
flot_condition_parse (const char *text, char *err, size_t err_cap)
{
    assert (text);
    size_t size = strlen (text);
    if (size > FLOT_CONDITION_MAX) {
        snprintf (err, err_cap, "the condition is longer than %d characters", FLOT_CONDITION_MAX);
        return NULL;
    }
    flot_condition_t *self = calloc (1, sizeof *self);
    assert (self);
    self->text = strdup (text);
    //  Each node starts at a distinct character, or is a function that
    //  starts at a word: never more nodes than characters.
    self->cap = size + 2;
    self->nodes = calloc (self->cap, sizeof (node_t));
    assert (self->text && self->nodes);
    parser_t p = { .cond = self, .text = self->text, .err = err, .err_cap = err_cap };
    self->root = s_or (&p);
    if (self->root >= 0) {
        s_skip_space (&p);
        if (p.text [p.at])
            s_fail (&p, p.at, "unexpected '%c' after a complete expression", p.text [p.at]);
    }
    else
    if (!p.failed)
        s_fail (&p, p.at, "not a valid expression");
    if (p.failed) {
        flot_condition_destroy (&self);
        return NULL;
    }
    return self;
}

void
flot_condition_destroy (flot_condition_t **self_p)
{
    flot_condition_t *self = *self_p;
    if (self) {
        free (self->text);
        free (self->nodes);
        free (self);
        *self_p = NULL;
    }
}

const char *
flot_condition_text (const flot_condition_t *self)
{
    assert (self);
    return self->text;
}

//  --------------------------------------------------------------------------
//  Evaluator

typedef struct {
    bool is_bool;
    double number;
} value_t;

typedef struct {
    const flot_condition_t *cond;
    const double *values;
    size_t count;
    char *err;
    size_t err_cap;
} eval_t;

static int
s_eval_fail (eval_t *e, const node_t *node, const char *format, ...)
{
    char sentence [200];
    va_list args;
    va_start (args, format);
    vsnprintf (sentence, sizeof sentence, format, args);
    va_end (args);
    snprintf (e->err, e->err_cap, "column %d: %s", node->column, sentence);
    return -1;
}

static int s_eval (eval_t *e, int index, value_t *out);

static int
s_eval_number (eval_t *e, int index, double *out, const char *what)
{
    value_t v;
    if (s_eval (e, index, &v))
        return -1;
    if (v.is_bool)
        return s_eval_fail (e, &e->cond->nodes [index], "%s takes a number, not true or false", what);
    *out = v.number;
    return 0;
}

static int
s_eval_bool (eval_t *e, int index, bool *out, const char *what)
{
    value_t v;
    if (s_eval (e, index, &v))
        return -1;
    if (!v.is_bool)
        return s_eval_fail (e, &e->cond->nodes [index], "%s takes true or false, not a number", what);
    *out = v.number != 0;
    return 0;
}

static int
s_eval (eval_t *e, int index, value_t *out)
{
    const node_t *node = &e->cond->nodes [index];
    double a = 0, b = 0;
    bool x = false, y = false;
    out->is_bool = false;
    switch (node->kind) {
        case N_NUM:
            out->number = node->number;
            return 0;
        case N_BOOL:
            out->is_bool = true;
            out->number = node->number;
            return 0;
        case N_RESULT:
            if (node->index >= e->count) {
                if (e->count == 0)
                    return s_eval_fail (e, node, "result: the measurement has no values");
                return s_eval_fail (e, node, "result[%zu]: the measurement has %zu value%s",
                                    node->index, e->count, e->count == 1 ? "" : "s");
            }
            out->number = e->values [node->index];
            return 0;
        case N_LEN:
            out->number = (double) e->count;
            return 0;
        case N_ISNAN:
        case N_ISINF:
            if (s_eval_number (e, node->left, &a, node->kind == N_ISNAN ? "isNaN" : "isInf"))
                return -1;
            out->is_bool = true;
            out->number = node->kind == N_ISNAN ? isnan (a) != 0 : isinf (a) != 0;
            return 0;
        case N_NEG:
            if (s_eval_number (e, node->left, &a, "'-'"))
                return -1;
            out->number = -a;
            return 0;
        case N_NOT:
            if (s_eval_bool (e, node->left, &x, "'!'"))
                return -1;
            out->is_bool = true;
            out->number = !x;
            return 0;
        case N_AND:
        case N_OR: {
            const char *what = node->kind == N_AND ? "'&&'" : "'||'";
            if (s_eval_bool (e, node->left, &x, what))
                return -1;
            out->is_bool = true;
            if (node->kind == N_AND ? !x : x) {
                out->number = x;
                return 0;
            }
            if (s_eval_bool (e, node->right, &y, what))
                return -1;
            out->number = y;
            return 0;
        }
        case N_EQ:
        case N_NE: {
            value_t l, r;
            if (s_eval (e, node->left, &l) || s_eval (e, node->right, &r))
                return -1;
            if (l.is_bool != r.is_bool)
                return s_eval_fail (e, node, "cannot compare a number with true or false");
            out->is_bool = true;
            out->number = node->kind == N_EQ ? l.number == r.number : l.number != r.number;
            return 0;
        }
        default:
            break;
    }
    //  The binary numeric operators.
    static const char *names [] = {
        [N_ADD] = "'+'", [N_SUB] = "'-'", [N_MUL] = "'*'", [N_DIV] = "'/'",
        [N_LT] = "'<'", [N_LE] = "'<='", [N_GT] = "'>'", [N_GE] = "'>='"
    };
    if (s_eval_number (e, node->left, &a, names [node->kind])
    ||  s_eval_number (e, node->right, &b, names [node->kind]))
        return -1;
    switch (node->kind) {
        case N_ADD: out->number = a + b; break;
        case N_SUB: out->number = a - b; break;
        case N_MUL: out->number = a * b; break;
        case N_DIV: out->number = a / b; break;
        default:
            out->is_bool = true;
            out->number = node->kind == N_LT ? a < b
                        : node->kind == N_LE ? a <= b
                        : node->kind == N_GT ? a > b : a >= b;
    }
    return 0;
}

int
flot_condition_eval (const flot_condition_t *self, const double *values, size_t count,
                     bool *out, char *err, size_t err_cap)
{
    assert (self);
    assert (out);
    eval_t e = { self, values, count, err, err_cap };
    value_t v;
    if (s_eval (&e, self->root, &v))
        return -1;
    if (!v.is_bool) {
        snprintf (err, err_cap, "the condition gives the number %g, not true or false", v.number);
        return -1;
    }
    *out = v.number != 0;
    return 0;
}
