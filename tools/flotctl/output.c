/*  output.c - how flotctl prints: tables, text, times and JSON.

    Human output is plain text on one line per item, with every control
    character a server sent shown as '?': aligned tables of cells (actors,
    status, list, plan), durations and UTC times, and lines built by
    appending. Machine output (--json) is one JSON document per reply,
    through jansson (flotilla/json.h).
*/
#include "ctl.h"

#include <time.h>

//  --------------------------------------------------------------------------
//  Tables

int
ctl_table_init (table_t *self, const char *const *headers, int cols,
                size_t rows, flot_err_t *err)
{
    *self = (table_t) {
        .headers = headers, .cols = cols, .rows = rows,
        .cells = calloc (rows ? rows * (size_t) cols : 1, sizeof (cell_t))
    };
    return self->cells ? 0 : flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
}

void
ctl_table_destroy (table_t *self)
{
    free (self->cells);
    self->cells = NULL;
}

cell_t *
ctl_table_row (table_t *self, size_t row)
{
    assert (row < self->rows);
    return self->cells + row * (size_t) self->cols;
}

//  Prints text on one line, control characters as '?', padded to width.
void
ctl_put_cell (const char *text, size_t width)
{
    size_t n = 0;
    for (; text [n]; n++) {
        unsigned char c = (unsigned char) text [n];
        putchar (c < 0x20 || c == 0x7f ? '?' : c);
    }
    for (; n < width; n++)
        putchar (' ');
}

//  One line of cells, two spaces apart, the last one not padded.
void
ctl_print_cells (const char *indent, const size_t *width, int cols,
                 const char *const *cells)
{
    fputs (indent, stdout);
    for (int c = 0; c < cols; c++) {
        ctl_put_cell (cells [c], c < cols - 1 ? width [c] : 0);
        fputs (c < cols - 1 ? "  " : "\n", stdout);
    }
}

//  Widens width (cols entries) to fit a line of cells.
void
ctl_fit_cells (size_t *width, int cols, const char *const *cells)
{
    for (int c = 0; c < cols; c++)
        width [c] = MAX (width [c], strlen (cells [c]));
}

//  The headers, then every row, each line after indent.
void
ctl_table_print (table_t *self, const char *indent)
{
    size_t width [self->cols];
    const char *cells [self->cols];
    memset (width, 0, sizeof width);
    ctl_fit_cells (width, self->cols, self->headers);
    for (size_t r = 0; r < self->rows; r++) {
        for (int c = 0; c < self->cols; c++)
            cells [c] = ctl_table_row (self, r) [c];
        ctl_fit_cells (width, self->cols, cells);
    }
    ctl_print_cells (indent, width, self->cols, self->headers);
    for (size_t r = 0; r < self->rows; r++) {
        for (int c = 0; c < self->cols; c++)
            cells [c] = ctl_table_row (self, r) [c];
        ctl_print_cells (indent, width, self->cols, cells);
    }
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  Times, text and JSON

//  A duration for people: 850ms, 12.3s, 5m03s, 2h05m, 3d04h.
void
ctl_duration (uint64_t ms, char *buf, size_t cap)
{
    uint64_t s = ms / 1000;
    if (ms < 1000)
        snprintf (buf, cap, "%llums", (unsigned long long) ms);
    else
    if (s < 60)
        snprintf (buf, cap, "%.1fs", (double) ms / 1000.0);
    else
    if (s < 3600)
        snprintf (buf, cap, "%llum%02llus", (unsigned long long) s / 60,
                  (unsigned long long) s % 60);
    else
    if (s < 86400)
        snprintf (buf, cap, "%lluh%02llum", (unsigned long long) s / 3600,
                  (unsigned long long) (s % 3600) / 60);
    else
        snprintf (buf, cap, "%llud%02lluh", (unsigned long long) s / 86400,
                  (unsigned long long) (s % 86400) / 3600);
}

//  A Unix time in milliseconds, in UTC: 2024-05-01T12:00:03.123Z, or with
//  !date 12:00:03.123Z; "-" for 0 (never).
void
ctl_utc (uint64_t ms, bool date, char *buf, size_t cap)
{
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    size_t n = 0;
    if (ms == 0 || !gmtime_r (&secs, &tm)
    ||  (n = strftime (buf, cap, date ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm)) == 0) {
        snprintf (buf, cap, "-");
        return;
    }
    snprintf (buf + n, cap - n, ".%03uZ", (unsigned) (ms % 1000));
}

//  Prints a string on one line: control characters become '?'; none if it
//  is empty.
void
ctl_put_text (FILE *out, const char *text, const char *none)
{
    if (!text || !*text)
        text = none;
    for (; *text; text++) {
        unsigned char c = (unsigned char) *text;
        fputc (c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}


//  Appends to the NUL-terminated line, cutting what does not fit.
void
ctl_append (char *line, size_t cap, const char *format, ...)
{
    size_t used = strlen (line);
    if (used + 1 >= cap)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (line + used, cap - used, format, args);
    va_end (args);
}

//  Copies text into a cell, cut short with "..." if it does not fit.
void
ctl_cell (cell_t cell, const char *text)
{
    if (strlen (text) < CELL_MAX)
        snprintf (cell, CELL_MAX, "%s", text);
    else
        snprintf (cell, CELL_MAX, "%.*s...", CELL_MAX - 4, text);
}

//  Prints a msgpack object as JSON, pretty or on one line.
int
ctl_print_json (const msgpack_object *obj, bool pretty)
{
    json_t *value = flot_json_from_msgpack (obj);
    char *text = value ? json_dumps (value, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY
                                    | (pretty ? JSON_INDENT (2) : JSON_COMPACT))
                       : NULL;
    json_decref (value);
    if (!text) {
        fprintf (stderr, "flotctl: the reply cannot be shown as JSON "
                 "(nested deeper than %d levels)\n", FLOT_MAX_DEPTH);
        return RC_ERROR;
    }
    puts (text);
    fflush (stdout);
    free (text);
    return RC_OK;
}
