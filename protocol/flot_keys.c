/*  flot_keys.c - CURVE keys, roles and credentials (flotilla/keys.h).

    Owns the layout of a key directory (the broker's: its key pair, the
    allowed and the revoked public keys), what each role may do, the config
    file, and where a client's or an actor's credentials come from. flotctl
    keys manages a directory through it; the broker loads it (keyring) and
    asks it whether a key may call a command; flotctl and actor hosts
    resolve their credentials through it; flotillad's embedded default
    makes its own keys with it on first start.

    Key pairs are czmq's zcert in its ZPL format; every file read here is
    treated as hostile (bounded, text only, checked key by key). Files are
    written whole into a temporary name beside the target, then linked into
    place, so a reader never sees half a file and nothing is overwritten.
    Temporary files of a key directory are made in the directory itself,
    never in allowed/, which ZAP (zauth) reads as it changes.
*/
#include "flotilla/keys.h"

#include <dirent.h>
#include <errno.h>
#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

//  The process's log (runtime/flot_log.c), when the program links it (the
//  broker, flotillad); else, in a client program, warnings go to stderr.
//  Declared weak so that this library does not depend on the runtime.
extern void flot_log (int level, const char *who, const char *format, ...)
    __attribute__ ((weak, format (printf, 3, 4)));
#define LOG_WARN 1          //  FLOT_LOG_WARN of flotilla/log.h

#define MAX_CERT_FILE   65536   //  bytes of a certificate file we read
#define MAX_CONFIG_FILE 65536   //  bytes of a config file
#define ZERO_KEY "0000000000000000000000000000000000000000"
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define TARGET_CHARS NAME_CHARS ":/@+"

static void
s_warn (const char *format, ...)
{
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (flot_log)
        flot_log (LOG_WARN, "keys", "%s", line);
    else
        fprintf (stderr, "flotilla: warning: %s\n", line);
}

//  Formats a path into buf; -1 with err (INVALID) if it does not fit.
static int
s_path (char *buf, size_t size, flot_err_t *err, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_path (char *buf, size_t size, flot_err_t *err, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (buf, size, format, args);
    va_end (args);
    if (len < 0 || (size_t) len >= size)
        return flot_err_set (err, FLOT_E_INVALID, "path too long (more than %zu bytes): %.60s...",
                             size - 1, buf);
    return 0;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

//  --------------------------------------------------------------------------
//  Roles and what a key may do

static const char *s_role_names [] = { "none", "viewer", "operator", "actor", "admin" };

const char *
flot_role_name (flot_role_t role)
{
    return role >= FLOT_ROLE_VIEWER && role <= FLOT_ROLE_ADMIN ? s_role_names [role] : "none";
}

flot_role_t
flot_role_parse (const char *text)
{
    if (text)
        for (int role = FLOT_ROLE_VIEWER; role <= FLOT_ROLE_ADMIN; role++)
            if (streq (text, s_role_names [role]))
                return (flot_role_t) role;
    return FLOT_ROLE_NONE;
}

bool
flot_key_name_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    return len >= 1 && len <= FLOT_KEY_NAME_MAX && strspn (name, NAME_CHARS) == len
        && !streq (name, ".") && !streq (name, "..");
}

//  True if item (size bytes) is in the comma-separated list, or the list
//  holds "*".
static bool
s_list_has (const char *list, const char *item)
{
    size_t size = strlen (item);
    const char *p = list;
    while (*p) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        if ((len == 1 && *p == '*') || (len == size && size && memcmp (p, item, size) == 0))
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

//  Checks a comma-separated list: items "*" or 1..max of chars.
static int
s_list_check (const char *list, const char *what, const char *chars,
              const char *chars_text, size_t max, flot_err_t *err)
{
    const char *p = list;
    while (true) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        if (len == 0)
            return flot_err_set (err, FLOT_E_INVALID, "%s '%s': an empty item (the list "
                                 "is comma-separated, no spaces)", what, list);
        if (!(len == 1 && *p == '*')
        &&  (len > max || strspn (p, chars) < len))
            return flot_err_set (err, FLOT_E_INVALID, "%s '%s': '%.*s' is not '*' or 1..%zu "
                                 "of [%s]", what, list, (int) (len > 80 ? 80 : len), p, max,
                                 chars_text);
        if (!end)
            return 0;
        p = end + 1;
    }
}

int
flot_key_check (const flot_key_t *key, flot_err_t *err)
{
    if (!flot_key_name_valid (key->name))
        return flot_err_set (err, FLOT_E_INVALID, "'%s' is not a key name: 1..%d of "
                             "[A-Za-z0-9._-], not '.' or '..'", key->name, FLOT_KEY_NAME_MAX);
    if (key->role < FLOT_ROLE_VIEWER || key->role > FLOT_ROLE_ADMIN)
        return flot_err_set (err, FLOT_E_INVALID, "key %s has no role (viewer, operator, "
                             "actor or admin)", key->name);
    if (key->role != FLOT_ROLE_ACTOR) {
        if (*key->services || *key->targets)
            return flot_err_set (err, FLOT_E_INVALID, "key %s: services and targets are for "
                                 "role actor only, not %s", key->name,
                                 flot_role_name (key->role));
        return 0;
    }
    if (!*key->services)
        return flot_err_set (err, FLOT_E_INVALID, "key %s: role actor needs the services "
                             "it may serve (a list, or '*')", key->name);
    if (s_list_check (key->services, "services", NAME_CHARS, "A-Za-z0-9._-",
                      FLOT_MAX_NAME, err))
        return -1;
    if (*key->targets
    &&  s_list_check (key->targets, "targets", TARGET_CHARS, "A-Za-z0-9._:/@+-",
                      FLOT_MAX_KEY, err))
        return -1;
    return 0;
}

bool
flot_key_may_serve (const flot_key_t *key, const char *service)
{
    if (!key || !service || !*service)
        return false;
    if (key->role == FLOT_ROLE_ADMIN)
        return true;
    return key->role == FLOT_ROLE_ACTOR && s_list_has (key->services, service);
}

bool
flot_key_may_claim (const flot_key_t *key, const char *routing_key)
{
    if (!key || !routing_key || !*routing_key)
        return false;
    if (key->role == FLOT_ROLE_ADMIN)
        return true;
    return key->role == FLOT_ROLE_ACTOR && s_list_has (key->targets, routing_key);
}

bool
flot_key_may_call (const flot_key_t *key, const char *const *callers, char *need,
                   size_t size)
{
    if (key && key->role == FLOT_ROLE_ADMIN)
        return true;
    flot_role_t role = key ? key->role : FLOT_ROLE_NONE;
    bool viewer = false, op = false;
    size_t services = 0;
    for (size_t i = 0; callers && callers [i]; i++) {
        const char *caller = callers [i];
        if (streq (caller, "viewer")) {
            viewer = true;
            if (role != FLOT_ROLE_NONE)
                return true;
        }
        else
        if (streq (caller, "operator")) {
            op = true;
            if (role == FLOT_ROLE_OPERATOR)
                return true;
        }
        else
        if (strncmp (caller, "service:", 8) == 0 && caller [8]) {
            services++;
            if (flot_key_may_serve (key, caller + 8))
                return true;
        }
    }
    if (!need || !size)
        return false;
    //  "role viewer", "role operator", then ", or an actor key for service
    //  A, B or C"; "role admin" when the callers name no one.
    *need = 0;
    size_t len = 0;
#define NEED(...) do { int n = snprintf (need + len, size - len, __VA_ARGS__); \
                       if (n > 0) len = len + (size_t) n < size ? len + (size_t) n : size - 1; \
                  } while (0)
    if (viewer)
        NEED ("role viewer");
    else
    if (op)
        NEED ("role operator");
    size_t seen = 0;
    for (size_t i = 0; callers && callers [i]; i++) {
        const char *caller = callers [i];
        if (strncmp (caller, "service:", 8) != 0 || !caller [8])
            continue;
        if (seen == 0)
            NEED ("%san actor key for service %s", len ? ", or " : "", caller + 8);
        else
            NEED ("%s%s", seen + 1 == services ? " or " : ", ", caller + 8);
        seen++;
    }
    if (!len)
        NEED ("role admin");
#undef NEED
    return false;
}

//  --------------------------------------------------------------------------
//  Files: directories, reading certificates, writing them safely

//  Makes path and its missing parents, each new one with mode 0700.
static int
s_mkdirs (const char *path, flot_err_t *err)
{
    char buf [1024];
    if (!*path)
        return flot_err_set (err, FLOT_E_INVALID, "no folder name (an empty path)");
    if (s_path (buf, sizeof buf, err, "%s", path))
        return -1;
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir (buf, 0700) && errno != EEXIST)
            return flot_err_set (err, FLOT_E_INTERNAL, "cannot make folder %s: %s", buf,
                                 strerror (errno));
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat (path, &st) || !S_ISDIR (st.st_mode))
        return flot_err_set (err, FLOT_E_INVALID, "%s is not a folder", path);
    return 0;
}

//  The folder of path: "." if it has none.
static int
s_dirname (const char *path, char *dir, size_t size, flot_err_t *err)
{
    const char *slash = strrchr (path, '/');
    if (!*path)
        return flot_err_set (err, FLOT_E_INVALID, "no file name (an empty path)");
    if (!slash)
        return s_path (dir, size, err, ".");
    if (!slash [1])
        return flot_err_set (err, FLOT_E_INVALID, "'%s' names a folder, not a file", path);
    if (slash == path)
        return s_path (dir, size, err, "/");
    return s_path (dir, size, err, "%.*s", (int) (slash - path), path);
}

//  True if the rest of a ZPL line is blank or a comment.
static bool
s_zpl_eoln (const char *p)
{
    while (isspace ((unsigned char) *p))
        p++;
    return !*p || *p == '#';
}

static bool
s_zpl_namechar (char c)
{
    return isalnum ((unsigned char) c) || (c && strchr ("$-_@.&+/", c));
}

//  Checks text the way czmq's zconfig parses ZPL, because zconfig prints
//  what it refuses on stdout (zclock_log) where a program's output goes.
//  Returns 0, or the number of the first line zconfig would refuse.
static int
s_zpl_check (const char *text)
{
    int lineno = 0;
    int depth = 0;              //  the deepest level a name may have here
    for (const char *line = text; line; ) {
        const char *eol = strchr (line, '\n');
        size_t len = eol ? (size_t) (eol - line) : strlen (line);
        lineno++;
        if (len > 1024)
            return lineno;
        char buf [1025];
        memcpy (buf, line, len);
        buf [len] = 0;
        line = eol ? eol + 1 : NULL;
        while (len && isspace ((unsigned char) buf [len - 1]))
            buf [--len] = 0;
        char *p = buf;
        while (*p == ' ')
            p++;
        if ((p - buf) % 4)
            return lineno;
        int level = (int) (p - buf) / 4;
        char *name = p;
        while (s_zpl_namechar (*p))
            p++;
        size_t name_len = (size_t) (p - name);
        if (!name_len) {
            if (!s_zpl_eoln (p))
                return lineno;
            continue;
        }
        if (*name == '/' || name [name_len - 1] == '/' || level > depth)
            return lineno;
        depth = level + 1;
        while (isspace ((unsigned char) *p))
            p++;
        if (*p != '=') {
            if (!s_zpl_eoln (p))
                return lineno;
            continue;
        }
        p++;
        while (isspace ((unsigned char) *p))
            p++;
        if (*p == '"' || *p == '\'') {
            char *quote = strchr (p + 1, *p);
            if (!quote || !s_zpl_eoln (quote + 1))
                return lineno;
        }
    }
    return 0;
}

//  Reads a file of at most max bytes of text (no control characters but
//  tab, CR and LF) into a new string. NULL with err.
static char *
s_text_read (const char *path, size_t max, const char *what, flot_err_t *err)
{
    //  Non-blocking, so that a FIFO cannot stop us; then only a regular file.
    int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        flot_err_set (err, errno == ENOENT ? FLOT_E_NOT_FOUND : FLOT_E_INVALID,
                      "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    struct stat st;
    char *text = NULL;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode))
        flot_err_set (err, FLOT_E_INVALID, "%s is not a file", path);
    else
    if ((size_t) st.st_size > max)
        flot_err_set (err, FLOT_E_INVALID, "%s is not %s: %lld bytes, more than %zu", path,
                      what, (long long) st.st_size, max);
    else
    if (!(text = malloc (max + 1)))
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    size_t size = 0;
    while (text && size <= max) {
        ssize_t n = read (fd, text + size, max + 1 - size);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            flot_err_set (err, FLOT_E_INTERNAL, "cannot read %s: %s", path, strerror (errno));
            free (text);
            text = NULL;
            break;
        }
        size += (size_t) n;
    }
    close (fd);
    if (!text)
        return NULL;
    bool binary = size > max;
    for (size_t i = 0; i < size && !binary; i++) {
        unsigned char c = (unsigned char) text [i];
        binary = (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f;
    }
    if (binary) {
        free (text);
        flot_err_set (err, FLOT_E_INVALID, "%s is not %s (%s)", path, what,
                      size > max ? "it grew while read" : "not text");
        return NULL;
    }
    text [size] = 0;
    return text;
}

//  Reads a certificate file, hostile: a regular file of at most
//  MAX_CERT_FILE bytes of ZPL text holding a CURVE public key (and, with
//  need_secret, the secret key of the same pair), in czmq's certificate
//  format. The file is read once, checked, and parsed with zconfig into a
//  zcert, as zcert_load does; but zcert_load would read FILE_secret instead
//  when one exists, and print a parse error on stdout.
static zcert_t *
s_cert_load (const char *path, bool need_secret, flot_err_t *err)
{
    char *text = s_text_read (path, MAX_CERT_FILE, "a key file", err);
    if (!text)
        return NULL;
    int bad_line = s_zpl_check (text);
    zconfig_t *root = bad_line ? NULL : zconfig_str_load (text);
    free (text);
    if (!root) {
        char line [16] = "";
        if (bad_line)
            snprintf (line, sizeof line, ":%d", bad_line);
        flot_err_set (err, FLOT_E_INVALID, "%s%s: not a key file (ZPL, as flotctl keys "
                      "writes it)", path, line);
        return NULL;
    }
    const char *public_txt = zconfig_get (root, "/curve/public-key", NULL);
    const char *secret_txt = zconfig_get (root, "/curve/secret-key", NULL);
    byte public_key [32] = { 0 }, secret_key [32] = { 0 };
    char derived [41];       //  zmq_curve_public writes Z85 text and a NUL
    zcert_t *cert = NULL;
    if (!public_txt || strlen (public_txt) != 40
    ||  !zmq_z85_decode (public_key, public_txt) || streq (public_txt, ZERO_KEY))
        flot_err_set (err, FLOT_E_INVALID, "%s is not a key file: no valid curve "
                      "public-key (40 characters of Z85)", path);
    else
    if (secret_txt && (strlen (secret_txt) != 40 || !zmq_z85_decode (secret_key, secret_txt)))
        flot_err_set (err, FLOT_E_INVALID, "%s: its curve secret-key is not 40 characters "
                      "of Z85", path);
    else
    if (need_secret && (!secret_txt || streq (secret_txt, ZERO_KEY)))
        flot_err_set (err, FLOT_E_INVALID, "%s holds no key pair (only a public key): give "
                      "the secret key file (NAME.key)", path);
    else
    if (secret_txt && !streq (secret_txt, ZERO_KEY)
    &&  (zmq_curve_public (derived, secret_txt) || strcmp (derived, public_txt)))
        flot_err_set (err, FLOT_E_INVALID, "%s: its secret-key is not the secret of its "
                      "public-key", path);
    else
    if (!(cert = zcert_new_from (public_key, secret_key)))
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    zconfig_t *metadata = cert ? zconfig_locate (root, "/metadata") : NULL;
    for (zconfig_t *item = metadata ? zconfig_child (metadata) : NULL; item;
         item = zconfig_next (item))
        zcert_set_meta (cert, zconfig_name (item), "%s", zconfig_value (item));
    zconfig_destroy (&root);
    return cert;
}

//  Checks that a secret file is this user's to read alone.
static int
s_secret_private (const char *path, flot_err_t *err)
{
    struct stat st;
    if (stat (path, &st))
        return flot_err_set (err, FLOT_E_INVALID, "cannot read %s: %s", path, strerror (errno));
    if (st.st_mode & 077)
        return flot_err_set (err, FLOT_E_INVALID, "%s holds a secret key but other users may "
                             "read it (mode %04o): chmod 600 %s", path,
                             (unsigned) (st.st_mode & 07777), path);
    return 0;
}

//  Writes cert (secret: both keys, else the public key) into path, which
//  must not exist: into a temporary file in tmp_dir (mode 0600, or 0644 for
//  a public key), then linked into place. CONFLICT if path exists.
static int
s_cert_save (zcert_t *cert, bool secret, const char *path, const char *tmp_dir,
             flot_err_t *err)
{
    char tmp [1100];
    if (s_path (tmp, sizeof tmp, err, "%s/.flotilla-XXXXXX", tmp_dir))
        return -1;
    if (s_exists (path))
        return flot_err_set (err, FLOT_E_CONFLICT, "%s already exists", path);
    int fd = mkstemp (tmp);
    if (fd < 0)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot write in %s: %s", tmp_dir,
                             strerror (errno));
    int rc = fchmod (fd, secret ? 0600 : 0644);
    close (fd);
    if (rc == 0)
        rc = secret ? zcert_save_secret (cert, tmp) : zcert_save_public (cert, tmp);
    if (rc == 0) {
        fd = open (tmp, O_RDONLY);
        rc = fd >= 0 ? fsync (fd) : -1;
        if (fd >= 0)
            close (fd);
    }
    if (rc) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot write %s: %s", tmp, strerror (errno));
        unlink (tmp);
        return -1;
    }
    rc = link (tmp, path);
    int why = errno;
    unlink (tmp);
    if (rc)
        return flot_err_set (err, why == EEXIST ? FLOT_E_CONFLICT : FLOT_E_INTERNAL,
                             why == EEXIST ? "%s already exists" : "cannot write %s: %s",
                             path, strerror (why));
    return 0;
}

//  Writes a secret file at path (0600), its temporary file beside it.
static int
s_save_secret (zcert_t *cert, const char *path, flot_err_t *err)
{
    char dir [1024];
    if (s_dirname (path, dir, sizeof dir, err))
        return -1;
    return s_cert_save (cert, true, path, dir, err);
}

static int
s_save_public (zcert_t *cert, const char *path, flot_err_t *err)
{
    char dir [1024];
    if (s_dirname (path, dir, sizeof dir, err))
        return -1;
    return s_cert_save (cert, false, path, dir, err);
}

//  Checks that dir is a key directory (it has allowed/).
static int
s_keydir_check (const char *dir, flot_err_t *err)
{
    char path [1100];
    if (s_path (path, sizeof path, err, "%s/allowed", dir))
        return -1;
    struct stat st;
    if (stat (path, &st) || !S_ISDIR (st.st_mode))
        return flot_err_set (err, FLOT_E_NOT_FOUND, "%s is not a key directory (no allowed/ "
                             "in it): make one with flotctl keys init --dir %s", dir, dir);
    return 0;
}

//  The key a certificate's metadata describes (name from the metadata,
//  which must be expect_name if given). Returns 0, or -1 with err.
static int
s_key_from_cert (zcert_t *cert, const char *expect_name, flot_key_t *key, flot_err_t *err)
{
    memset (key, 0, sizeof *key);
    const char *name = zcert_meta (cert, "name");
    const char *role = zcert_meta (cert, "role");
    const char *services = zcert_meta (cert, "services");
    const char *targets = zcert_meta (cert, "targets");
    if (!name || !flot_key_name_valid (name))
        return flot_err_set (err, FLOT_E_INVALID, "its metadata name is %s%s%s, not a key name",
                             name ? "'" : "", name ? name : "missing", name ? "'" : "");
    if (expect_name && !streq (name, expect_name))
        return flot_err_set (err, FLOT_E_INVALID, "its metadata name is '%s', not '%s'",
                             name, expect_name);
    snprintf (key->name, sizeof key->name, "%s", name);
    key->role = flot_role_parse (role);
    if (key->role == FLOT_ROLE_NONE)
        return flot_err_set (err, FLOT_E_INVALID, "its role is %s%s%s, not viewer, operator, "
                             "actor or admin", role ? "'" : "", role ? role : "missing",
                             role ? "'" : "");
    if ((services && strlen (services) >= sizeof key->services)
    ||  (targets && strlen (targets) >= sizeof key->targets))
        return flot_err_set (err, FLOT_E_INVALID, "its services or targets list is too long");
    snprintf (key->services, sizeof key->services, "%s", services ? services : "");
    snprintf (key->targets, sizeof key->targets, "%s", targets ? targets : "");
    snprintf (key->public_key, sizeof key->public_key, "%s", zcert_public_txt (cert));
    return flot_key_check (key, err);
}

//  Sets a certificate's metadata to key's name, role and scope.
static void
s_cert_describe (zcert_t *cert, const flot_key_t *key)
{
    zcert_set_meta (cert, "name", "%s", key->name);
    zcert_set_meta (cert, "role", "%s", flot_role_name (key->role));
    if (*key->services)
        zcert_set_meta (cert, "services", "%s", key->services);
    if (*key->targets)
        zcert_set_meta (cert, "targets", "%s", key->targets);
}

//  CONFLICT if name is allowed or revoked in dir.
static int
s_name_free (const char *dir, const char *name, flot_err_t *err)
{
    char path [1200];
    if (s_path (path, sizeof path, err, "%s/allowed/%s.pub", dir, name))
        return -1;
    if (s_exists (path))
        return flot_err_set (err, FLOT_E_CONFLICT, "a key named %s is already allowed (%s)",
                             name, path);
    if (s_path (path, sizeof path, err, "%s/revoked/%s.pub", dir, name))
        return -1;
    if (s_exists (path))
        return flot_err_set (err, FLOT_E_CONFLICT, "a key named %s was revoked (%s): names "
                             "are not reused, so that logs stay clear; choose another",
                             name, path);
    return 0;
}

//  --------------------------------------------------------------------------
//  The key directory

int
flot_keys_init (const char *dir, flot_err_t *err)
{
    char path [1100];
    if (s_path (path, sizeof path, err, "%s/broker.key", dir))
        return -1;
    if (s_exists (path))
        return flot_err_set (err, FLOT_E_CONFLICT, "%s already holds a broker key pair (%s)",
                             dir, path);
    if (s_mkdirs (dir, err))
        return -1;
    if (chmod (dir, 0700))
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make %s private (chmod 700): %s",
                             dir, strerror (errno));
    static const char *subdirs [] = { "allowed", "revoked" };
    for (int i = 0; i < 2; i++) {
        char sub [1100];
        if (s_path (sub, sizeof sub, err, "%s/%s", dir, subdirs [i]) || s_mkdirs (sub, err))
            return -1;
    }
    zcert_t *cert = zcert_new ();
    if (!cert)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make a key pair");
    zcert_set_meta (cert, "name", "broker");
    int rc = s_cert_save (cert, true, path, dir, err);
    if (rc == 0) {
        char pub [1100];
        rc = s_path (pub, sizeof pub, err, "%s/broker.pub", dir);
        if (rc == 0)
            rc = s_cert_save (cert, false, pub, dir, err);
        if (rc)
            unlink (path);
    }
    zcert_destroy (&cert);
    return rc;
}

int
flot_keys_new (const char *dir, flot_key_t *key, const char *secret_path, flot_err_t *err)
{
    if (flot_key_check (key, err) || s_keydir_check (dir, err)
    ||  s_name_free (dir, key->name, err))
        return -1;
    char pub [1200];
    if (s_path (pub, sizeof pub, err, "%s/allowed/%s.pub", dir, key->name))
        return -1;
    if (s_exists (secret_path))
        return flot_err_set (err, FLOT_E_CONFLICT, "%s already exists: the secret key is not "
                             "written over a file", secret_path);
    zcert_t *cert = zcert_new ();
    if (!cert)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make a key pair");
    zcert_set_meta (cert, "name", "%s", key->name);
    int rc = s_save_secret (cert, secret_path, err);
    if (rc == 0) {
        s_cert_describe (cert, key);
        rc = s_cert_save (cert, false, pub, dir, err);
        if (rc)
            unlink (secret_path);
    }
    if (rc == 0)
        snprintf (key->public_key, sizeof key->public_key, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    return rc;
}

int
flot_keys_create (const char *name, const char *secret_path, const char *public_path,
                  flot_err_t *err)
{
    if (!flot_key_name_valid (name))
        return flot_err_set (err, FLOT_E_INVALID, "'%s' is not a key name: 1..%d of "
                             "[A-Za-z0-9._-], not '.' or '..'", name, FLOT_KEY_NAME_MAX);
    if (streq (secret_path, public_path))
        return flot_err_set (err, FLOT_E_INVALID, "the secret and the public key need two "
                             "files, not both %s", secret_path);
    for (int i = 0; i < 2; i++) {
        const char *path = i ? public_path : secret_path;
        if (s_exists (path))
            return flot_err_set (err, FLOT_E_CONFLICT, "%s already exists: a key is not "
                                 "written over a file", path);
    }
    zcert_t *cert = zcert_new ();
    if (!cert)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make a key pair");
    zcert_set_meta (cert, "name", "%s", name);
    int rc = s_save_secret (cert, secret_path, err);
    if (rc == 0) {
        rc = s_save_public (cert, public_path, err);
        if (rc)
            unlink (secret_path);
    }
    zcert_destroy (&cert);
    return rc;
}

int
flot_keys_allow (const char *dir, const char *public_path, flot_key_t *key,
                 flot_err_t *err)
{
    if (flot_key_check (key, err) || s_keydir_check (dir, err)
    ||  s_name_free (dir, key->name, err))
        return -1;
    zcert_t *theirs = s_cert_load (public_path, false, err);
    if (!theirs)
        return -1;
    //  Only the public key travels into the directory.
    zcert_t *cert = zcert_new_from (zcert_public_key (theirs),
                                    zcert_secret_key (theirs));
    zcert_destroy (&theirs);
    if (!cert)
        return flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    snprintf (key->public_key, sizeof key->public_key, "%s", zcert_public_txt (cert));
    flot_keyring_t *ring = flot_keyring_load (dir, err);
    int rc = ring ? 0 : -1;
    if (ring) {
        const flot_key_t *other = flot_keyring_lookup (ring, key->public_key);
        const char *revoked = flot_keyring_revoked (ring, key->public_key);
        if (other)
            rc = flot_err_set (err, FLOT_E_CONFLICT, "the public key of %s is already "
                               "allowed as %s", public_path, other->name);
        else
        if (revoked)
            rc = flot_err_set (err, FLOT_E_CONFLICT, "the public key of %s was revoked (as "
                               "%s): a revoked key is not allowed again; make a new one",
                               public_path, revoked);
        flot_keyring_destroy (&ring);
    }
    if (rc == 0) {
        char pub [1200];
        rc = s_path (pub, sizeof pub, err, "%s/allowed/%s.pub", dir, key->name);
        if (rc == 0) {
            s_cert_describe (cert, key);
            rc = s_cert_save (cert, false, pub, dir, err);
        }
    }
    zcert_destroy (&cert);
    return rc;
}

int
flot_keys_revoke (const char *dir, const char *name, flot_err_t *err)
{
    if (!flot_key_name_valid (name))
        return flot_err_set (err, FLOT_E_INVALID, "'%s' is not a key name: 1..%d of "
                             "[A-Za-z0-9._-], not '.' or '..'", name, FLOT_KEY_NAME_MAX);
    if (s_keydir_check (dir, err))
        return -1;
    char from [1200], to [1200], revoked [1100];
    if (s_path (from, sizeof from, err, "%s/allowed/%s.pub", dir, name)
    ||  s_path (to, sizeof to, err, "%s/revoked/%s.pub", dir, name)
    ||  s_path (revoked, sizeof revoked, err, "%s/revoked", dir)
    ||  s_mkdirs (revoked, err))
        return -1;
    if (!s_exists (from))
        return flot_err_set (err, FLOT_E_NOT_FOUND, s_exists (to)
                             ? "key %s is already revoked" : "no key named %s is allowed in %s",
                             name, dir);
    //  Never over a revoked key of the same name: it stays, for the logs.
    if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EINVAL && !s_exists (to) && rename (from, to) == 0)
        return 0;       //  a file system without RENAME_NOREPLACE
    if (errno == EEXIST)
        return flot_err_set (err, FLOT_E_CONFLICT, "%s already exists", to);
    return flot_err_set (err, errno == ENOENT ? FLOT_E_NOT_FOUND : FLOT_E_INTERNAL,
                         "cannot move %s to %s: %s", from, to, strerror (errno));
}

//  The public key of the pair in a secret file, or "" if unreadable.
static void
s_public_of (const char *path, char *public_key)
{
    flot_err_t ignore;
    zcert_t *cert = s_cert_load (path, false, &ignore);
    snprintf (public_key, 41, "%s", cert ? zcert_public_txt (cert) : "");
    zcert_destroy (&cert);
}

static int
s_rotate_finish (const char *dir, const char *key, const char *pub,
                 const char *next_key, const char *next_pub, flot_err_t *err)
{
    if (!s_exists (next_key)) {
        //  Finished halfway before (the key moved, its .pub not yet)?
        char now [41], next [41];
        s_public_of (key, now);
        s_public_of (next_pub, next);
        if (*now && streq (now, next)) {
            if (rename (next_pub, pub))
                return flot_err_set (err, FLOT_E_INTERNAL, "cannot move %s to %s: %s",
                                     next_pub, pub, strerror (errno));
            return 0;
        }
        return flot_err_set (err, FLOT_E_NOT_FOUND, "no rotation to finish in %s (no "
                             "broker-next.key): start one with flotctl keys rotate", dir);
    }
    zcert_t *cert = s_cert_load (next_key, true, err);
    if (!cert)
        return -1;
    char next [41];
    snprintf (next, sizeof next, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    char next_public [41];
    s_public_of (next_pub, next_public);
    if (!streq (next, next_public))
        return flot_err_set (err, FLOT_E_INVALID, "%s does not hold the public key of %s: "
                             "the rotation is broken; remove both and start again",
                             next_pub, next_key);
    if (rename (next_key, key) || rename (next_pub, pub))
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make the next key the broker's "
                             "in %s: %s", dir, strerror (errno));
    return 0;
}

int
flot_keys_rotate (const char *dir, bool finish, flot_err_t *err)
{
    char key [1100], pub [1100], next_key [1100], next_pub [1100];
    if (s_path (key, sizeof key, err, "%s/broker.key", dir)
    ||  s_path (pub, sizeof pub, err, "%s/broker.pub", dir)
    ||  s_path (next_key, sizeof next_key, err, "%s/broker-next.key", dir)
    ||  s_path (next_pub, sizeof next_pub, err, "%s/broker-next.pub", dir))
        return -1;
    if (!s_exists (key))
        return flot_err_set (err, FLOT_E_NOT_FOUND, "%s has no broker key pair (%s): make "
                             "one with flotctl keys init --dir %s", dir, key, dir);
    if (finish)
        return s_rotate_finish (dir, key, pub, next_key, next_pub, err);
    if (s_exists (next_key) || s_exists (next_pub))
        return flot_err_set (err, FLOT_E_CONFLICT, "a rotation is already under way in %s "
                             "(%s): finish it with flotctl keys rotate --finish", dir,
                             s_exists (next_key) ? next_key : next_pub);
    zcert_t *cert = zcert_new ();
    if (!cert)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make a key pair");
    zcert_set_meta (cert, "name", "broker");
    int rc = s_cert_save (cert, true, next_key, dir, err);
    if (rc == 0) {
        rc = s_cert_save (cert, false, next_pub, dir, err);
        if (rc)
            unlink (next_key);
    }
    zcert_destroy (&cert);
    return rc;
}

zcert_t *
flot_keys_server_cert (const char *dir, bool next, flot_err_t *err)
{
    char path [1100];
    if (s_path (path, sizeof path, err, "%s/%s", dir, next ? "broker-next.key" : "broker.key"))
        return NULL;
    if (!s_exists (path)) {
        if (next)
            flot_err_set (err, FLOT_E_NOT_FOUND, "no rotation under way in %s (no %s)", dir,
                          path);
        else
            flot_err_set (err, FLOT_E_NOT_FOUND, "%s has no broker key pair (%s): make one "
                          "with flotctl keys init --dir %s", dir, path, dir);
        return NULL;
    }
    if (s_secret_private (path, err))
        return NULL;
    return s_cert_load (path, true, err);
}

//  --------------------------------------------------------------------------
//  The keyring: a key directory in memory

struct _flot_keyring_t {
    zhash_t *allowed;           //  public key -> flot_key_t
    zhash_t *revoked;           //  public key -> flot_key_t
};

void
flot_keyring_destroy (flot_keyring_t **self_p)
{
    if (self_p && *self_p) {
        flot_keyring_t *self = *self_p;
        zhash_destroy (&self->allowed);
        zhash_destroy (&self->revoked);
        free (self);
        *self_p = NULL;
    }
}

//  Loads the NAME.pub files of dir/sub into hash (public key -> key).
//  Unreadable ones are skipped with a warning; for revoked, a key whose
//  metadata is wrong is kept by its file's name with role none.
static int
s_keyring_scan (const char *dir, const char *sub, zhash_t *hash, bool revoked,
                flot_err_t *err)
{
    char folder [1100];
    if (s_path (folder, sizeof folder, err, "%s/%s", dir, sub))
        return -1;
    DIR *handle = opendir (folder);
    if (!handle) {
        if (revoked && errno == ENOENT)
            return 0;
        return flot_err_set (err, errno == ENOENT ? FLOT_E_NOT_FOUND : FLOT_E_INTERNAL,
                             "cannot read the keys in %s: %s", folder, strerror (errno));
    }
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        const char *file = entry->d_name;
        if (*file == '.')
            continue;       //  ., .., and hidden files
        size_t len = strlen (file);
        char name [FLOT_KEY_NAME_MAX + 1] = "";
        if (len > 4 && len - 4 <= FLOT_KEY_NAME_MAX && streq (file + len - 4, ".pub"))
            snprintf (name, sizeof name, "%.*s", (int) (len - 4), file);
        if (!flot_key_name_valid (name)) {
            s_warn ("file %s/%s skipped: not NAME.pub with a key name", folder, file);
            continue;
        }
        char path [1300];
        flot_err_t why;
        if (s_path (path, sizeof path, &why, "%s/%s", folder, file))
            continue;
        zcert_t *cert = s_cert_load (path, false, &why);
        if (!cert) {
            s_warn ("key file skipped: %s", why.message);
            continue;
        }
        flot_key_t *key = calloc (1, sizeof *key);
        if (!key) {
            zcert_destroy (&cert);
            s_warn ("%s skipped: out of memory", path);
            continue;
        }
        if (s_key_from_cert (cert, name, key, &why)) {
            if (!revoked) {
                s_warn ("key file %s skipped: %s", path, why.message);
                zcert_destroy (&cert);
                free (key);
                continue;
            }
            //  Revoked all the same: known by its file's name.
            memset (key, 0, sizeof *key);
            snprintf (key->name, sizeof key->name, "%s", name);
            snprintf (key->public_key, sizeof key->public_key, "%s", zcert_public_txt (cert));
        }
        zcert_destroy (&cert);
        flot_key_t *other = (flot_key_t *) zhash_lookup (hash, key->public_key);
        if (other) {
            s_warn ("key file %s skipped: its public key is already %s as %s", path,
                    revoked ? "revoked" : "allowed", other->name);
            free (key);
            continue;
        }
        zhash_insert (hash, key->public_key, key);
        zhash_freefn (hash, key->public_key, free);
    }
    closedir (handle);
    return 0;
}

flot_keyring_t *
flot_keyring_load (const char *dir, flot_err_t *err)
{
    if (s_keydir_check (dir, err))
        return NULL;
    flot_keyring_t *self = calloc (1, sizeof *self);
    if (self) {
        self->allowed = zhash_new ();
        self->revoked = zhash_new ();
    }
    if (!self || !self->allowed || !self->revoked) {
        flot_keyring_destroy (&self);
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
        return NULL;
    }
    if (s_keyring_scan (dir, "revoked", self->revoked, true, err)
    ||  s_keyring_scan (dir, "allowed", self->allowed, false, err)) {
        flot_keyring_destroy (&self);
        return NULL;
    }
    //  A key both allowed and revoked (a file copied back by hand) is
    //  revoked: revocation wins.
    zlist_t *keys = zhash_keys (self->allowed);
    for (char *pk = keys ? (char *) zlist_first (keys) : NULL; pk; pk = (char *) zlist_next (keys)) {
        const flot_key_t *gone = (const flot_key_t *) zhash_lookup (self->revoked, pk);
        if (gone) {
            const flot_key_t *key = (const flot_key_t *) zhash_lookup (self->allowed, pk);
            s_warn ("key file %s/allowed/%s.pub skipped: its public key was revoked as %s", dir,
                    key->name, gone->name);
            zhash_delete (self->allowed, pk);
        }
    }
    zlist_destroy (&keys);
    return self;
}

const flot_key_t *
flot_keyring_lookup (const flot_keyring_t *self, const char *public_key)
{
    assert (self);
    return public_key ? (const flot_key_t *) zhash_lookup (self->allowed, public_key) : NULL;
}

const char *
flot_keyring_revoked (const flot_keyring_t *self, const char *public_key)
{
    assert (self);
    const flot_key_t *key = public_key
        ? (const flot_key_t *) zhash_lookup (self->revoked, public_key) : NULL;
    return key ? key->name : NULL;
}

size_t
flot_keyring_size (const flot_keyring_t *self)
{
    assert (self);
    return zhash_size (self->allowed);
}

const flot_key_t *
flot_keyring_first (flot_keyring_t *self)
{
    assert (self);
    return (const flot_key_t *) zhash_first (self->allowed);
}

const flot_key_t *
flot_keyring_next (flot_keyring_t *self)
{
    assert (self);
    return (const flot_key_t *) zhash_next (self->allowed);
}

size_t
flot_keyring_revoked_size (const flot_keyring_t *self)
{
    assert (self);
    return zhash_size (self->revoked);
}

const flot_key_t *
flot_keyring_revoked_first (flot_keyring_t *self)
{
    assert (self);
    return (const flot_key_t *) zhash_first (self->revoked);
}

const flot_key_t *
flot_keyring_revoked_next (flot_keyring_t *self)
{
    assert (self);
    return (const flot_key_t *) zhash_next (self->revoked);
}

//  --------------------------------------------------------------------------
//  The config file

static const char *s_settings [] = { "endpoint", "cert", "broker-cert", "auth-dir",
                                     "hooks-dir", NULL };

//  The user's home folder: $HOME, else the password database.
static int
s_home (char *path, size_t size, flot_err_t *err)
{
    const char *home = getenv ("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid (getuid ());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home)
        return flot_err_set (err, FLOT_E_NOT_FOUND, "no home folder: HOME is not set and "
                             "user %u has no entry in the password database",
                             (unsigned) getuid ());
    return s_path (path, size, err, "%s", home);
}

int
flot_config_path (char *path, size_t size, flot_err_t *err)
{
    *path = 0;
    const char *env = getenv ("FLOTILLA_CONFIG");
    if (env && *env)
        return s_path (path, size, err, "%s", env);
    char home [1024];
    flot_err_t ignore;
    if (s_home (home, sizeof home, &ignore) == 0) {
        if (s_path (path, size, err, "%s/.config/flotilla/flotilla.conf", home))
            return -1;
        if (access (path, F_OK) == 0)
            return 0;
    }
    if (access ("/etc/flotilla/flotilla.conf", F_OK) == 0)
        return s_path (path, size, err, "/etc/flotilla/flotilla.conf");
    *path = 0;
    return 0;
}

static char *
s_trim (char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    char *end = text + strlen (text);
    while (end > text && (end [-1] == ' ' || end [-1] == '\t' || end [-1] == '\r'))
        *--end = 0;
    return text;
}

//  Reads the whole file, checking every line; the value of name (1) or none
//  (0). Paths (every setting but endpoint) that are relative are taken from
//  the file's folder.
static int
s_config_read (const char *file, const char *name, char *out, size_t size,
               flot_err_t *err)
{
    FILE *handle = fopen (file, "rb");
    if (!handle)
        return flot_err_set (err, FLOT_E_INVALID, "cannot read the config file %s: %s",
                             file, strerror (errno));
    char *text = malloc (MAX_CONFIG_FILE + 1);
    size_t length = text ? fread (text, 1, MAX_CONFIG_FILE + 1, handle) : 0;
    fclose (handle);
    if (!text)
        return flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    if (length > MAX_CONFIG_FILE || memchr (text, 0, length)) {
        free (text);
        return flot_err_set (err, FLOT_E_INVALID, "%s is not a config file (%s)", file,
                             length > MAX_CONFIG_FILE ? "over 64 KiB" : "a NUL byte");
    }
    text [length] = 0;
    int found = 0, found_line = 0, lineno = 0, rc = 0;
    int seen [sizeof s_settings / sizeof s_settings [0]] = { 0 };     //  line of each
    char *value_at = NULL;
    for (char *line = text, *next; line && rc == 0; line = next) {
        lineno++;
        next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        char *content = s_trim (line);
        if (!*content || *content == '#')
            continue;
        char *equals = strchr (content, '=');
        if (!equals) {
            rc = flot_err_set (err, FLOT_E_INVALID, "%s:%d: expected `name = value`, not "
                               "'%.60s'", file, lineno, content);
            break;
        }
        *equals = 0;
        char *key = s_trim (content);
        char *value = s_trim (equals + 1);
        size_t vlen = strlen (value);
        if (vlen >= 2 && *value == '"' && value [vlen - 1] == '"') {
            value [vlen - 1] = 0;
            value++;
        }
        int i = 0;
        while (s_settings [i] && !streq (s_settings [i], key))
            i++;
        if (!s_settings [i])
            rc = flot_err_set (err, FLOT_E_INVALID, "%s:%d: unknown setting '%.60s' (endpoint, "
                               "cert, broker-cert, auth-dir, hooks-dir)", file, lineno, key);
        else
        if (!*value)
            rc = flot_err_set (err, FLOT_E_INVALID, "%s:%d: %s has no value", file, lineno, key);
        else
        if (seen [i])
            rc = flot_err_set (err, FLOT_E_INVALID, "%s:%d: %s is set again (first on "
                               "line %d)", file, lineno, key, seen [i]);
        else {
            seen [i] = lineno;
            if (streq (key, name)) {
                found = 1;
                found_line = lineno;
                value_at = value;
            }
        }
    }
    if (rc == 0 && found) {
        char folder [1024] = ".";
        if (!streq (name, "endpoint") && *value_at != '/'
        &&  s_dirname (file, folder, sizeof folder, err))
            rc = -1;
        else
        if (!streq (folder, "."))
            rc = s_path (out, size, err, "%s/%s", folder, value_at);
        else
            rc = s_path (out, size, err, "%s", value_at);
        if (rc)
            flot_err_set (err, FLOT_E_INVALID, "%s:%d: the value of %s is too long", file,
                          found_line, name);
    }
    free (text);
    return rc ? -1 : found;
}

int
flot_config_get (const char *name, char *out, size_t size, flot_err_t *err)
{
    int i = 0;
    while (s_settings [i] && !streq (s_settings [i], name))
        i++;
    if (!s_settings [i])
        return flot_err_set (err, FLOT_E_INVALID, "'%s' is not a setting of the config file",
                             name);
    char file [1024];
    if (flot_config_path (file, sizeof file, err))
        return -1;
    if (!*file)
        return 0;
    return s_config_read (file, name, out, size, err);
}

//  --------------------------------------------------------------------------
//  Credentials

//  A setting: the option, else the environment variable, else the config
//  file's. Fills path and where it came from ("" when none).
static int
s_setting (const char *option, const char *option_name, const char *env_name,
           const char *config_name, char *path, size_t size, char *from, size_t from_size,
           flot_err_t *err)
{
    *path = *from = 0;
    const char *env = getenv (env_name);
    if (option) {
        snprintf (from, from_size, "%s", option_name);
        return s_path (path, size, err, "%s", option);
    }
    if (env && *env) {
        snprintf (from, from_size, "%s", env_name);
        return s_path (path, size, err, "%s", env);
    }
    int rc = flot_config_get (config_name, path, size, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        char file [1024];
        flot_config_path (file, sizeof file, err);
        snprintf (from, from_size, "%s in %s", config_name, file);
    }
    return 0;
}

//  True if endpoint is tcp:// on a loopback address.
static bool
s_loopback (const char *endpoint)
{
    if (!endpoint || strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *colon = strrchr (host, ':');
    if (!colon)
        return false;
    size_t len = (size_t) (colon - host);
    if ((len == 9 && memcmp (host, "localhost", 9) == 0)
    ||  (len == 5 && memcmp (host, "[::1]", 5) == 0))
        return true;
    return len >= 7 && len <= 15 && memcmp (host, "127.", 4) == 0
        && strspn (host, "0123456789.") >= len;
}

int
flot_creds_resolve (flot_creds_t *creds, const char *cert_path, const char *server_path,
                    const char *endpoint, flot_err_t *err)
{
    memset (creds, 0, sizeof *creds);
    char cert_from [1100], server_from [1100];
    if (s_setting (cert_path, "--cert", "FLOTILLA_CERT", "cert", creds->cert_path,
                   sizeof creds->cert_path, cert_from, sizeof cert_from, err)
    ||  s_setting (server_path, "--broker-cert", "FLOTILLA_BROKER_CERT", "broker-cert",
                   creds->server_path, sizeof creds->server_path, server_from,
                   sizeof server_from, err))
        return -1;
    if (!*creds->cert_path && !*creds->server_path) {
        //  Nothing configured: the embedded daemon's own keys, on loopback.
        char local [1024];
        flot_err_t ignore;
        if (!s_loopback (endpoint) || flot_keys_local_path (local, sizeof local, &ignore))
            return 0;
        if (s_path (creds->cert_path, sizeof creds->cert_path, &ignore, "%s/local.key", local)
        ||  s_path (creds->server_path, sizeof creds->server_path, &ignore, "%s/broker.pub",
                    local)
        ||  !s_exists (creds->cert_path) || !s_exists (creds->server_path)) {
            *creds->cert_path = *creds->server_path = 0;
            return 0;
        }
    }
    else
    if (!*creds->server_path)
        return flot_err_set (err, FLOT_E_INVALID, "a key is given (%s: %s) but not the "
                             "broker's public key: give --broker-cert FILE (or "
                             "FLOTILLA_BROKER_CERT, or broker-cert in the config file)",
                             cert_from, creds->cert_path);
    else
    if (!*creds->cert_path)
        return flot_err_set (err, FLOT_E_INVALID, "the broker's public key is given (%s: %s) "
                             "but not a key to connect with: give --cert FILE (or "
                             "FLOTILLA_CERT, or cert in the config file)",
                             server_from, creds->server_path);
    zcert_t *server = s_cert_load (creds->server_path, false, err);
    if (!server)
        return -1;
    snprintf (creds->server_key, sizeof creds->server_key, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    if (s_secret_private (creds->cert_path, err))
        return -1;
    creds->cert = s_cert_load (creds->cert_path, true, err);
    return creds->cert ? 0 : -1;
}

bool
flot_creds_valid (const flot_creds_t *creds)
{
    byte key [32];
    return !creds || !creds->cert
        || (strlen (creds->server_key) == 40 && zmq_z85_decode (key, creds->server_key)
            && !streq (creds->server_key, ZERO_KEY));
}

void
flot_creds_apply (const flot_creds_t *creds, zsock_t *sock)
{
    if (creds && creds->cert) {
        //  A server key that does not decode becomes a key no server has:
        //  the handshake fails, rather than the socket going plain.
        byte key [32] = { 0 };
        if (!flot_creds_valid (creds) || !zmq_z85_decode (key, creds->server_key))
            memset (key, 0, sizeof key);
        zmq_setsockopt (zsock_resolve (sock), ZMQ_CURVE_SERVERKEY, key, sizeof key);
        zcert_apply (creds->cert, sock);
    }
}

void
flot_creds_clear (flot_creds_t *creds)
{
    if (creds)
        zcert_destroy (&creds->cert);
}

int
flot_creds_copy (flot_creds_t *dst, const flot_creds_t *src)
{
    *dst = *src;
    dst->cert = NULL;
    if (src->cert && !(dst->cert = zcert_dup (src->cert)))
        return -1;
    return 0;
}

//  --------------------------------------------------------------------------
//  The embedded daemon's own keys

int
flot_keys_local_path (char *path, size_t size, flot_err_t *err)
{
    const char *home = getenv ("FLOTILLA_HOME");
    if (home && *home)
        return s_path (path, size, err, "%s/local", home);
    char user_home [1024];
    if (s_home (user_home, sizeof user_home, err))
        return -1;
    return s_path (path, size, err, "%s/.flotilla/local", user_home);
}

//  An existing local folder: this user's alone, and complete.
static int
s_local_check (const char *path, flot_err_t *err)
{
    struct stat st;
    if (stat (path, &st) || !S_ISDIR (st.st_mode))
        return flot_err_set (err, FLOT_E_INVALID, "%s is not a folder", path);
    if (st.st_uid != geteuid () || (st.st_mode & 077))
        return flot_err_set (err, FLOT_E_INVALID, "%s may be opened by other users (owner %u, "
                             "mode %04o): it must be this user's alone (chmod 700)", path,
                             (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
    char key [1100];
    if (s_path (key, sizeof key, err, "%s/local.key", path))
        return -1;
    if (!s_exists (key))
        return flot_err_set (err, FLOT_E_INVALID, "%s is incomplete (no local.key): remove "
                             "it to have new local keys made", path);
    return 0;
}

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    remove (path);
    return 0;
}

int
flot_keys_local_ensure (char *path, size_t size, flot_err_t *err)
{
    if (flot_keys_local_path (path, size, err))
        return -1;
    if (s_exists (path))
        return s_local_check (path, err);
    char parent [1024];
    if (s_dirname (path, parent, sizeof parent, err) || s_mkdirs (parent, err))
        return -1;
    char tmp [1100];
    if (s_path (tmp, sizeof tmp, err, "%s/.local-XXXXXX", parent))
        return -1;
    if (!mkdtemp (tmp))
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot make a folder in %s: %s", parent,
                             strerror (errno));
    flot_key_t key = { .name = "local", .role = FLOT_ROLE_ADMIN };
    char secret [1200];
    int rc = flot_keys_init (tmp, err);
    if (rc == 0)
        rc = s_path (secret, sizeof secret, err, "%s/local.key", tmp);
    if (rc == 0)
        rc = flot_keys_new (tmp, &key, secret, err);
    if (rc == 0 && rename (tmp, path)) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            rc = s_local_check (path, err);     //  another process made it first
        else
            rc = flot_err_set (err, FLOT_E_INTERNAL, "cannot make %s: %s", path,
                               strerror (errno));
    }
    else
    if (rc == 0)
        return 0;
    nftw (tmp, s_remove_one, 8, FTW_DEPTH | FTW_PHYS);
    return rc;
}
