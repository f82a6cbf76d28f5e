#!/usr/bin/env python3
"""gen_contracts.py - the contracts of protocol/contracts/*.json, as C and as SPEC tables.

Each JSON file defines one service's contract: its commands (request, reply
and stream messages field by field, the errors each may answer, who may call
it, whether it is idempotent), the message types its commands share, and,
for the events service, every event type with its data. This script is the
only reader of those files:

  gen_contracts.py --c OUTDIR          write OUTDIR/flotilla/contract_<service>.h
                                       for each service, OUTDIR/flotilla/contracts.h
                                       and OUTDIR/contracts.c (field tables and
                                       command tables for protocol/flot_contract.c)
  gen_contracts.py --spec SPEC.md      rewrite the tables between the markers
                                       <!-- contract:NAME --> and <!-- /contract:NAME -->
  gen_contracts.py --check SPEC.md     exit 1, showing the difference, if the
                                       tables in SPEC.md are not the generated ones

The format (every key is checked; an unknown one is an error):

  {"service": "executor", "doc": "...",
   "instances": "many",                                       (optional)
   "types": {"STEP": {"doc": "...", "fields": [FIELD, ...]}},
   "enums": {"PHASE": {"doc": "...", "values": ["pending", "running"]}},
   "commands": [{"name": "ExecuteStep", "doc": "...",
                 "callers": ["operator", "service:coordinator"],
                 "idempotent": false,
                 "request": [FIELD, ...] | "TYPE" | "any",
                 "reply": [FIELD, ...] | "TYPE" | "any",
                 "stream": [FIELD, ...] | "TYPE",            (optional)
                 "errors": ["INVALID", "BUSY"]}],
   "events": [{"type": "step.completed", "doc": "...", "ends": false,
               "data": [FIELD, ...]}]}                        (events only)

  FIELD: {"name": "weight", "type": T, "required": bool, "doc": "...",
          "min": N, "max": N, "default": V,
          "enum": ["a", "b"] | "NAME" | "service.NAME",
          "each": {"min": N, "max": N}}
  T: str | uint | int | bool | double | any | map | strmap | TYPE |
     service.TYPE | [T] (an array of T, T not an array)
  min/max bound a number's value, a string's length in bytes, an array's
  item count or a strmap's entry count; each bounds an array's strings or
  numbers, or a strmap's strings. A named enum (under "enums") becomes a C
  enum too: flot_<service>_<name>_t, its constants FLOT_<SERVICE>_<NAME>_<VALUE>,
  flot_<service>_<name>_name (v) and flot_<service>_<name>_parse (text).
  instances: "many" (the default) or "one": the broker registers one live
  instance of the service at a time and refuses a READY for another (SPEC
  4.1); flot_contract_t's one_instance.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRACTS = os.path.join(HERE, "contracts")

SCALARS = ("str", "uint", "int", "bool", "double", "any", "map", "strmap")
CODES = ("MALFORMED", "VERSION", "TOO_LARGE", "UNKNOWN_SERVICE", "NO_INSTANCE",
         "DEADLINE", "ACTOR_FAILED", "NOT_AUTHORIZED", "UNKNOWN_COMMAND",
         "INVALID", "NOT_FOUND", "CONFLICT", "BUSY", "INTERNAL", "CANCELLED")
ROLES = ("viewer", "operator")
C_WORDS = {"default", "int", "double", "char", "case", "switch", "for", "while",
           "if", "else", "return", "struct", "union", "enum", "const", "static",
           "signed", "unsigned", "void", "long", "short", "float", "auto",
           "register", "volatile", "extern", "goto", "break", "continue", "do",
           "sizeof", "typedef", "bool", "inline", "restrict", "true", "false",
           "errno", "unused_"}
U64_MAX = (1 << 64) - 1
LEN_MAX = 1 << 20           # FLOT_MAX_BODY: nothing on the wire is longer
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TYPE_RE = re.compile(r"^\[?([a-z]+|([a-z][a-z0-9_-]*\.)?[A-Z][A-Z0-9_]*)\]?$")


class ContractError(Exception):
    pass


def fail(where, sentence):
    raise ContractError("%s: %s" % (where, sentence))


def check_keys(where, obj, allowed, required=()):
    if not isinstance(obj, dict):
        fail(where, "expected an object")
    for key in obj:
        if key not in allowed:
            fail(where, "unknown key '%s' (expected one of %s)" % (key, ", ".join(allowed)))
    for key in required:
        if key not in obj:
            fail(where, "'%s' is required" % key)


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    s = re.sub(r"[^a-z0-9_]", "_", s)
    return s + "_" if s in C_WORDS else s


# ---------------------------------------------------------------------------
#  Loading

class Field:
    def __init__(self, where, obj, contract):
        check_keys(where, obj, ("name", "type", "required", "doc", "min", "max",
                                "default", "enum", "each"), ("name", "type"))
        self.name = obj["name"]
        self.where = "%s: field '%s'" % (where, self.name)
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            fail(self.where, "a field's name is a C identifier (letters, digits, _)")
        self.type = obj["type"]
        if not isinstance(self.type, str) or not TYPE_RE.match(self.type):
            fail(self.where, "type %r is not a type of the format" % (self.type,))
        self.required = obj.get("required", False)
        self.doc = obj.get("doc", "")
        self.min = obj.get("min")
        self.max = obj.get("max")
        self.default = obj.get("default")
        self.enum = obj.get("enum")
        self.each = obj.get("each")
        self.contract = contract
        self.cname = snake(self.name)
        self.array = self.type.startswith("[")
        self.elem = self.type[1:-1] if self.array else None
        if self.array and not self.type.endswith("]"):
            fail(self.where, "type '%s' is not [T]" % self.type)
        base = self.elem if self.array else self.type
        if base.startswith("["):
            fail(self.where, "arrays of arrays are not supported")
        if self.each is not None:
            check_keys(self.where + ": each", self.each, ("min", "max"))
        if self.default is not None and self.required:
            fail(self.where, "a required field has no default")
        if self.enum is not None and self.type != "str":
            fail(self.where, "enum is for a str field (not an array of them)")
        if self.array and self.elem == "strmap":
            fail(self.where, "arrays of strmaps are not supported")
        limited = self.type in ("str", "uint", "int", "double", "strmap") or self.array
        if (self.min is not None or self.max is not None) and not limited:
            fail(self.where, "min and max do not apply to type %s" % self.type)
        if self.each is not None and not (self.type == "strmap" or (
                self.array and self.elem in ("str", "uint", "int", "double"))):
            fail(self.where, "each applies to an array of strings or numbers, or a strmap")

    def base(self):
        return self.elem if self.array else self.type

    def is_struct(self, t=None):
        return (t or self.base()) not in SCALARS


class Struct:
    def __init__(self, contract, key, cname, doc, fields):
        self.contract = contract
        self.key = key              # "executor.STEP", "events.Replay reply"
        self.cname = cname          # flot_executor_step
        self.doc = doc
        self.fields = fields
        self.ref = None             # a named type it stands for ("STEP")
        if len(fields) > 64:
            fail(key, "more than 64 fields")
        names = [f.name for f in fields]
        for n in names:
            if names.count(n) > 1:
                fail(key, "field '%s' is defined twice" % n)
        # The C names too: fooBar and foo_bar, or x and hasX, would collide.
        cnames = [f.cname for f in fields] + ["has_" + f.cname for f in fields]
        for f in fields:
            if cnames.count(f.cname) > 1:
                fail(key, "field '%s' is '%s' in C, as another field or flag is"
                     % (f.name, f.cname))


class Command:
    pass


class Contract:
    pass


def load_fields(where, spec, contract):
    if not isinstance(spec, list):
        fail(where, "expected a list of fields")
    return [Field("%s[%d]" % (where, i), f, contract) for i, f in enumerate(spec)]


def load(directory=CONTRACTS):
    contracts = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(directory, name)
        with open(path) as f:
            try:
                data = json.load(f, object_pairs_hook=s_no_repeats(path))
            except ValueError as e:
                raise ContractError("%s: %s" % (path, e))
        c = load_contract(os.path.relpath(path, os.path.dirname(HERE)), data)
        if c.service + ".json" != name:
            fail(path, "service '%s' must be in %s.json" % (c.service, c.service))
        contracts[c.service] = c
    resolve(contracts)
    return contracts


def s_no_repeats(path):
    def hook(pairs):
        keys = [k for k, _ in pairs]
        for k in keys:
            if keys.count(k) > 1:
                raise ContractError("%s: key '%s' is given twice" % (path, k))
        return dict(pairs)
    return hook


def load_contract(path, data):
    check_keys(path, data, ("service", "doc", "instances", "types", "enums", "commands",
                            "events"), ("service", "commands"))
    c = Contract()
    c.service = data["service"]
    c.doc = data.get("doc", "")
    c.instances = data.get("instances", "many")
    if c.instances not in ("one", "many"):
        fail(path, "instances is \"one\" or \"many\", not %s" % json.dumps(c.instances))
    c.path = path
    c.enums = {}
    for ename, e in data.get("enums", {}).items():
        where = "%s: enum %s" % (path, ename)
        check_keys(where, e, ("doc", "values"), ("values",))
        if not re.match(r"^[A-Z][A-Z0-9_]*$", ename):
            fail(where, "an enum's name is upper case")
        values = e["values"]
        if not values or not all(isinstance(v, str) and re.match(r"^[A-Za-z0-9_.-]+$", v)
                                 for v in values) or len(set(values)) != len(values):
            fail(where, "values are distinct names")
        constants = [re.sub(r"[^A-Za-z0-9]", "_", snake(v)).upper().strip("_") for v in values]
        if len(set(constants)) != len(constants) or not all(constants):
            fail(where, "two values make the same C constant")
        c.enums[ename] = {"doc": e.get("doc", ""), "values": values,
                          "cname": "flot_%s_%s" % (c.service, snake(ename)),
                          "name": ename, "service": c.service}
    c.types = {}
    for tname, t in data.get("types", {}).items():
        where = "%s: type %s" % (path, tname)
        check_keys(where, t, ("doc", "fields"), ("fields",))
        if not re.match(r"^[A-Z][A-Z0-9_]*$", tname):
            fail(where, "a type's name is upper case")
        c.types[tname] = Struct(c, "%s.%s" % (c.service, tname),
                                "flot_%s_%s" % (c.service, snake(tname)),
                                t.get("doc", ""), load_fields(where, t["fields"], c))
    c.commands = []
    for i, d in enumerate(data["commands"]):
        where = "%s: commands[%d]" % (path, i)
        check_keys(where, d, ("name", "doc", "callers", "idempotent", "request",
                              "reply", "stream", "errors"),
                   ("name", "callers", "idempotent", "request", "reply"))
        cmd = Command()
        cmd.name = d["name"]
        if not NAME_RE.match(cmd.name):
            fail(where, "'%s' is not a command name" % cmd.name)
        cmd.doc = d.get("doc", "")
        cmd.callers = d["callers"]
        for who in cmd.callers:
            if who not in ROLES and not re.match(r"^service:[a-z][a-z0-9._-]*$", who):
                fail(where, "caller '%s' is not viewer, operator or service:NAME" % who)
        cmd.idempotent = bool(d["idempotent"])
        cmd.errors = d.get("errors", [])
        for e in cmd.errors:
            if e not in CODES:
                fail(where, "error '%s' is not a code of SPEC section 6" % e)
        base = "flot_%s_%s" % (c.service, snake(cmd.name))
        cmd.request = message(c, "%s: request" % where, d["request"],
                              "%s.%s request" % (c.service, cmd.name), base + "_request")
        cmd.reply = message(c, "%s: reply" % where, d["reply"],
                            "%s.%s reply" % (c.service, cmd.name), base + "_reply")
        cmd.stream = message(c, "%s: stream" % where, d.get("stream"),
                             "%s.%s stream" % (c.service, cmd.name), base + "_stream")
        if any(other.name == cmd.name for other in c.commands):
            fail(where, "command '%s' is defined twice" % cmd.name)
        c.commands.append(cmd)
    c.events = []
    for i, e in enumerate(data.get("events", [])):
        where = "%s: events[%d]" % (path, i)
        check_keys(where, e, ("type", "doc", "ends", "data"), ("type", "data"))
        if not re.match(r"^[a-z0-9._-]{1,64}$", e["type"]):
            fail(where, "'%s' is not an event type" % e["type"])
        s = Struct(c, "event %s" % e["type"],
                   "flot_event_%s" % snake(e["type"].replace(".", "_").replace("-", "_")),
                   e.get("doc", ""), load_fields(where, e["data"], c))
        s.type = e["type"]
        s.ends = bool(e.get("ends", False))
        if any(other.cname == s.cname for other in c.events):
            fail(where, "event type '%s' is defined twice (or named as another in C)" % e["type"])
        c.events.append(s)
    return c


def message(c, where, spec, key, cname):
    """A message: None (none), "any", a type's name, or a list of fields."""
    if spec is None or spec == "any":
        return spec
    if isinstance(spec, str):
        s = Struct(c, key, cname, "", [])
        s.ref = spec
        return s
    return Struct(c, key, cname, "", load_fields(where, spec, c))


def lookup(contracts, c, name, where):
    if "." in name:
        service, tname = name.split(".", 1)
        if service not in contracts or tname not in contracts[service].types:
            fail(where, "no type '%s'" % name)
        return contracts[service].types[tname]
    if name not in c.types:
        fail(where, "no type '%s' in %s (or give service.TYPE)" % (name, c.service))
    return c.types[name]


def lookup_enum(contracts, c, name, where):
    service, ename = name.split(".", 1) if "." in name else (c.service, name)
    if service not in contracts or ename not in contracts[service].enums:
        fail(where, "no enum '%s'" % name)
    return contracts[service].enums[ename]


def resolve(contracts):
    for c in contracts.values():
        structs = list(c.types.values()) + c.events
        for cmd in c.commands:
            for attr in ("request", "reply", "stream"):
                m = getattr(cmd, attr)
                if isinstance(m, Struct) and m.ref:
                    setattr(cmd, attr, lookup(contracts, c, m.ref, m.key))
                elif isinstance(m, Struct):
                    structs.append(m)
        for s in structs:
            for f in s.fields:
                if isinstance(f.enum, str):
                    f.enum_ref = lookup_enum(contracts, c, f.enum, f.where)
                    f.enum = f.enum_ref["values"]
                else:
                    f.enum_ref = None
                if f.is_struct():
                    f.sub = lookup(contracts, c, f.base(), f.where)
                else:
                    f.sub = None
                check_field(f)
        c.structs = structs


def check_limits(where, lo, hi, integer, unsigned):
    for name, v in (("min", lo), ("max", hi)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            fail(where, "%s must be a number" % name)
        if integer and not isinstance(v, int):
            fail(where, "%s must be an integer" % name)
        if unsigned and v < 0:
            fail(where, "%s must not be negative" % name)
        top = U64_MAX if unsigned else (1 << 63) - 1
        if integer and not (-(1 << 63) <= v <= top):
            fail(where, "%s is out of range" % name)
    if lo is not None and hi is not None and lo > hi:
        fail(where, "min %s is above max %s" % (lo, hi))


def check_field(f):
    # Lengths and counts are unsigned integers; so are uint values.
    counted = f.array or f.type in ("str", "strmap")
    check_limits(f.where, f.min, f.max, counted or f.type in ("uint", "int"),
                 counted or f.type == "uint")
    if f.each:
        elem = "str" if f.type == "strmap" else f.elem
        check_limits(f.where + ": each", f.each.get("min"), f.each.get("max"),
                     elem != "double", elem in ("str", "uint"))
    if f.default is not None:
        want = {"str": str, "uint": int, "int": int, "bool": bool,
                "double": (int, float)}.get(f.type)
        if want is None or f.array or not isinstance(f.default, want) \
                or (f.type != "bool" and isinstance(f.default, bool)):
            fail(f.where, "default %r does not fit type %s" % (f.default, f.type))
        size = len(f.default.encode()) if f.type == "str" else f.default
        if f.type != "bool" and ((f.min is not None and size < f.min)
                                 or (f.max is not None and size > f.max)
                                 or (f.type == "uint" and size < 0)):
            fail(f.where, "default %r is outside min and max" % (f.default,))
        if f.enum and f.default not in f.enum:
            fail(f.where, "default %r is not one of enum" % (f.default,))


# ---------------------------------------------------------------------------
#  C

def c_type(f, t=None):
    t = t or f.type
    if t.startswith("["):
        return "flot_array_t"
    return {"str": "const char *", "uint": "uint64_t", "int": "int64_t",
            "bool": "bool", "double": "double", "any": "const msgpack_object *",
            "map": "const msgpack_object *", "strmap": "flot_strmap_t"
            }.get(t) or ("%s_t *" % f.sub.cname)


def elem_c_type(f):
    if f.is_struct():
        return "%s_t" % f.sub.cname
    return {"str": "const char *", "uint": "uint64_t", "int": "int64_t",
            "bool": "bool", "double": "double", "any": "msgpack_object",
            "map": "msgpack_object"}[f.elem]


def has_flag(f):
    return not f.required and not f.array and f.type in ("uint", "int", "bool", "double")


def flot_t(t):
    if t.startswith("["):
        return "FLOT_T_ARRAY"
    if t in SCALARS:
        return "FLOT_T_" + t.upper()
    return "FLOT_T_STRUCT"


def c_str(s):
    """A C string literal: printable ASCII as it is, every other byte in octal."""
    out = []
    for b in s.encode():
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7f and ch != "?":
            out.append(ch)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def c_comment(text, width=72):
    """text as the lines of a // comment: wrapped, with no line that ends in
    a backslash (which would continue the comment onto the code)."""
    import textwrap
    lines = textwrap.wrap(" ".join(text.split()), width) if text.strip() else []
    return [line.rstrip("\\ ") or "." for line in lines]


def c_u64(v):
    return "UINT64_MAX" if v == U64_MAX else "%dULL" % v


def c_double(v):
    if v is None:
        return None
    return repr(float(v))


def emit_struct_decl(s, out):
    out.append("//  %s%s" % (s.key, (": " + s.doc) if s.doc else ""))
    out.append("struct _%s_t {" % s.cname)
    for f in s.fields:
        doc = ("of %s: " % elem_c_type(f) if f.array else "") + f.doc
        for line in c_comment(doc):
            out.append("    //  " + line)
        if f.array:
            out.append("    flot_array_t %s;" % f.cname)
        else:
            ct = c_type(f)
            sep = "" if ct.endswith("*") else " "
            out.append("    %s%s%s;" % (ct, sep, f.cname))
        if has_flag(f):
            out.append("    bool has_%s;" % f.cname)
    if not s.fields:
        out.append("    char unused_;")
    out.append("};")
    out.append("extern const flot_struct_t %s_def;" % s.cname)
    out.append("static inline int %s_decode (const msgpack_object *map, msgpack_zone *zone,"
               % s.cname)
    out.append("    %s_t *out, flot_err_t *err) { return flot_decode (&%s_def, map, zone, out, err); }"
               % (s.cname, s.cname))
    out.append("static inline int %s_encode (const %s_t *in, msgpack_packer *pk)"
               % (s.cname, s.cname))
    out.append("    { return flot_encode (&%s_def, in, pk); }" % s.cname)
    out.append("")


def emit_enum_decl(e, out):
    cname, upper = e["cname"], e["cname"].upper()
    out.append("//  %s.%s%s" % (e["service"], e["name"], (": " + e["doc"]) if e["doc"] else ""))
    out.append("typedef enum {")
    for v in e["values"]:
        out.append("    %s_%s," % (upper, re.sub(r"[^A-Za-z0-9]", "_", snake(v)).upper().strip("_")))
    out.append("} %s_t;" % cname)
    out.append("#define %s_COUNT %d" % (upper, len(e["values"])))
    out.append("//  The values' names, in order, NULL-ended.")
    out.append("extern const char *const %s_names [];" % cname)
    out.append("static inline const char *%s_name (%s_t value)" % (cname, cname))
    out.append("    { return (unsigned) value < %s_COUNT ? %s_names [value] : \"unknown\"; }"
               % (upper, cname))
    out.append("//  The value called name, or -1.")
    out.append("static inline int %s_parse (const char *name) {" % cname)
    out.append("    for (int v = 0; name && v < %s_COUNT; v++)" % upper)
    out.append("        if (strcmp (name, %s_names [v]) == 0)" % cname)
    out.append("            return v;")
    out.append("    return -1;")
    out.append("}")
    out.append("")


def emit_field_table(s, out):
    out.append("static const flot_field_t s_%s_fields [] = {" % s.cname)
    for f in s.fields:
        items = ['.name = %s' % c_str(f.name), '.type = %s' % flot_t(f.type)]
        if f.array:
            items.append(".elem = %s" % flot_t(f.elem))
        if f.required:
            items.append(".required = true")
        items.append(".offset = offsetof (%s_t, %s)" % (s.cname, f.cname))
        items.append(".has_offset = %s" % ("offsetof (%s_t, has_%s)" % (s.cname, f.cname)
                                            if has_flag(f) else "SIZE_MAX"))
        # Limits: a number's value, or a length or a count.
        if f.type == "uint" or f.type in ("str", "strmap") or f.array:
            lo = f.min if f.min is not None else 0
            hi = f.max if f.max is not None else (U64_MAX if f.type == "uint" else LEN_MAX)
            items.append(".umin = %s, .umax = %s" % (c_u64(lo), c_u64(hi)))
        if f.type == "int":
            items.append(".imin = %s, .imax = %s" % (
                "INT64_MIN" if f.min is None else "%dLL" % f.min,
                "INT64_MAX" if f.max is None else "%dLL" % f.max))
        if f.type == "double":
            items.append(".dmin = %s, .dmax = %s" % (
                "-INFINITY" if f.min is None else c_double(f.min),
                "INFINITY" if f.max is None else c_double(f.max)))
        if f.array or f.type == "strmap":
            each = f.each or {}
            elem_hi = U64_MAX if (f.elem == "uint") else LEN_MAX
            items.append(".emin = %s, .emax = %s" % (c_u64(each.get("min", 0)),
                                                      c_u64(each.get("max", elem_hi))))
            if f.elem == "int":
                items.append(".imin = %s, .imax = %s" % (
                    "%dLL" % each["min"] if "min" in each else "INT64_MIN",
                    "%dLL" % each["max"] if "max" in each else "INT64_MAX"))
            if f.elem == "double":
                items.append(".dmin = %s, .dmax = %s" % (
                    c_double(each["min"]) if "min" in each else "-INFINITY",
                    c_double(each["max"]) if "max" in each else "INFINITY"))
        if f.enum_ref:
            items.append(".choices = %s_names" % f.enum_ref["cname"])
        elif f.enum:
            items.append(".choices = (const char *const []) { %s, NULL }"
                         % ", ".join(c_str(e) for e in f.enum))
        if f.sub:
            items.append(".sub = &%s_def" % f.sub.cname)
        if f.default is not None:
            items.append(".has_default = true")
            key = {"str": "sdefault", "uint": "udefault", "int": "idefault",
                   "bool": "bdefault", "double": "ddefault"}[f.type]
            v = f.default
            if f.type == "str":
                v = c_str(v)
            elif f.type == "bool":
                v = "true" if v else "false"
            elif f.type == "double":
                v = c_double(v)
            elif f.type == "uint":
                v = "%dULL" % v
            else:
                v = "%dLL" % v
            items.append(".%s = %s" % (key, v))
        out.append("    { " + ",\n      ".join(items) + " },")
    if not s.fields:
        out.append("    { .name = NULL }")
    out.append("};")
    out.append("const flot_struct_t %s_def = {" % s.cname)
    out.append("    %s, sizeof (%s_t), s_%s_fields, %d" % (c_str(s.key), s.cname, s.cname,
                                                           len(s.fields)))
    out.append("};")
    out.append("")


def emit_c(contracts, outdir):
    os.makedirs(os.path.join(outdir, "flotilla"), exist_ok=True)
    written = []
    for c in contracts.values():
        guard = "FLOTILLA_CONTRACT_%s_H_INCLUDED" % snake(c.service).upper()
        out = ["/*  flotilla/contract_%s.h - the %s service's contract, in C." % (c.service, c.service),
               "",
               "    Generated by protocol/gen_contracts.py from %s: do not edit." % c.path,
               "    Each message is a struct, its field table (_def), and a typed",
               "    decode and encode (flotilla/contract.h says the rules).",
               "*/",
               "#ifndef " + guard, "#define " + guard, "",
               '#include "flotilla/contract.h"', "", "#include <string.h>"]
        deps = sorted({f.sub.contract.service for s in c.structs for f in s.fields
                       if f.sub and f.sub.contract is not c}
                      | {f.enum_ref["service"] for s in c.structs for f in s.fields
                         if f.enum_ref and f.enum_ref["service"] != c.service})
        for cmd in c.commands:
            for m in (cmd.request, cmd.reply, cmd.stream):
                if isinstance(m, Struct) and m.contract is not c:
                    deps = sorted(set(deps) | {m.contract.service})
        for d in deps:
            out.append('#include "flotilla/contract_%s.h"' % d)
        out.append("")
        for e in c.enums.values():
            emit_enum_decl(e, out)
        for s in c.structs:
            out.append("typedef struct _%s_t %s_t;" % (s.cname, s.cname))
        out.append("")
        for s in c.structs:
            emit_struct_decl(s, out)
        out.append("extern const flot_contract_t flot_%s_contract;" % snake(c.service))
        for cmd in c.commands:
            out.append("#define FLOT_%s_%s %s" % (snake(c.service).upper(),
                       snake(cmd.name).upper(), c_str(cmd.name)))
        out.append("")
        out.append("#endif")
        write(os.path.join(outdir, "flotilla", "contract_%s.h" % c.service), out, written)
    # One header for all, one C file with every table.
    out = ["/*  flotilla/contracts.h - every contract (generated by protocol/gen_contracts.py). */",
           "#ifndef FLOTILLA_CONTRACTS_H_INCLUDED", "#define FLOTILLA_CONTRACTS_H_INCLUDED", ""]
    out += ['#include "flotilla/contract_%s.h"' % c.service for c in contracts.values()]
    out += ["", "#endif"]
    write(os.path.join(outdir, "flotilla", "contracts.h"), out, written)

    out = ["/*  contracts.c - the field and command tables of every contract.",
           "",
           "    Generated by protocol/gen_contracts.py from the files of",
           "    protocol/contracts: do not edit. protocol/flot_contract.c reads them.",
           "*/",
           '#include "flotilla/contracts.h"', "",
           "#include <math.h>", "#include <stddef.h>", "#include <stdint.h>", ""]
    for c in contracts.values():
        for e in c.enums.values():
            out.append("const char *const %s_names [] = { %s, NULL };"
                       % (e["cname"], ", ".join(c_str(v) for v in e["values"])))
        if c.enums:
            out.append("")
    for c in contracts.values():
        for s in c.structs:
            emit_field_table(s, out)
    for c in contracts.values():
        out.append("static const flot_command_def_t s_%s_commands [] = {" % snake(c.service))
        for cmd in c.commands:
            def ref(m):
                return "&%s_def" % m.cname if isinstance(m, Struct) else "NULL"
            codes = ", ".join("FLOT_E_" + e for e in cmd.errors)
            out.append("    { %s, (const char *const []) { %s, NULL }, %s," % (
                c_str(cmd.name), ", ".join(c_str(w) for w in cmd.callers),
                "true" if cmd.idempotent else "false"))
            out.append("      %s, %s, %s, (const int []) { %s%s0 } }," % (
                ref(cmd.request), ref(cmd.reply), ref(cmd.stream), codes,
                ", " if codes else ""))
        out.append("};")
        out.append("const flot_contract_t flot_%s_contract = {" % snake(c.service))
        out.append("    %s, s_%s_commands, %d, %s" % (c_str(c.service), snake(c.service),
                                                      len(c.commands),
                                                      "true" if c.instances == "one"
                                                      else "false"))
        out.append("};")
        out.append("")
    out.append("const flot_contract_t *const flot_contracts [] = {")
    for c in contracts.values():
        out.append("    &flot_%s_contract," % snake(c.service))
    out.append("    NULL")
    out.append("};")
    out.append("")
    out.append("const flot_struct_t *const flot_struct_defs [] = {")
    for c in contracts.values():
        for s in c.structs:
            out.append("    &%s_def," % s.cname)
    out.append("    NULL")
    out.append("};")
    out.append("")
    events = [e for c in contracts.values() for e in c.events]
    out.append("const flot_event_def_t flot_event_defs [] = {")
    for e in events:
        out.append("    { %s, &%s_def, %s }," % (c_str(e.type), e.cname,
                                                  "true" if e.ends else "false"))
    if not events:
        out.append("    { NULL, NULL, false }")
    out.append("};")
    out.append("const size_t flot_event_def_count = %d;" % len(events))
    write(os.path.join(outdir, "contracts.c"), out, written)
    return written


def write(path, lines, written):
    text = "\n".join(lines) + "\n"
    # Leave an unchanged file alone, so the build does not redo its work.
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                written.append(path)
                return
    with open(path, "w") as f:
        f.write(text)
    written.append(path)


# ---------------------------------------------------------------------------
#  SPEC tables

def md_type(f):
    t = f.type
    if f.enum_ref:
        return f.enum_ref["name"]
    if f.enum:
        return " \\| ".join('`"%s"`' % e for e in f.enum)
    if f.array:
        return "[%s]" % f.elem
    if t == "strmap":
        return "{str: str}"
    return t


def md_limits(f):
    parts = []
    lo, hi = f.min, f.max
    if lo is not None or hi is not None:
        floor = 0 if (f.array or f.type in ("str", "strmap", "uint")) else None
        lo = lo if lo is not None else floor
        rng = "%s..%s" % (fmt(lo) if lo is not None else "", fmt(hi) if hi is not None else "")
        if f.array:
            parts.append("%s items" % rng)
        elif f.type in ("str",):
            parts.append("%s bytes" % rng)
        elif f.type == "strmap":
            parts.append("%s entries" % rng)
        else:
            parts.append(rng)
    if f.each and f.type == "strmap":
        lo, hi = f.each.get("min", 0), f.each.get("max")
        hi = fmt(hi) if hi is not None else ""
        parts.append("keys %s..%s bytes, values 0..%s bytes" % (fmt(lo), hi, hi))
    elif f.each:
        floor = 0 if f.elem in ("str", "uint") else None
        lo, hi = f.each.get("min", floor), f.each.get("max")
        unit = " bytes" if f.elem == "str" else ""
        parts.append("each %s..%s%s" % (fmt(lo) if lo is not None else "",
                                        fmt(hi) if hi is not None else "", unit))
    if f.default is not None:
        d = f.default
        d = ("true" if d else "false") if isinstance(d, bool) else \
            ('"%s"' % d if isinstance(d, str) else fmt(d))
        parts.append("default %s" % d)
    return ", ".join(parts)


def fmt(v):
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def md_fields(fields):
    if not fields:
        return ["`{}`: no fields."]
    rows = ["| Key | Type | Required | Limits | Meaning |", "|---|---|---|---|---|"]
    for f in fields:
        doc = f.doc.replace("|", "\\|")
        rows.append("| `%s` | %s | %s | %s | %s |" % (f.name, md_type(f),
                    "yes" if f.required else "no", md_limits(f), doc))
    return rows


def md_message(label, m, here):
    if m is None:
        return []
    if m == "any":
        return ["%s: any map." % label, ""]
    if m.ref or m.key.split(".")[-1].isupper():
        # A type of this contract by its name, another's as service.NAME.
        name = m.key if m.contract is not here else m.key.split(".")[-1]
        return ["%s: %s." % (label, name), ""]
    return ["%s:" % label, ""] + md_fields(m.fields) + [""]


def md_contract(c):
    out = []
    out.append("| Command | Callers | Idempotent | Errors |")
    out.append("|---|---|---|---|")
    for cmd in c.commands:
        out.append("| `%s` | %s | %s | %s |" % (cmd.name, ", ".join(cmd.callers),
                   "yes" if cmd.idempotent else "no",
                   ", ".join(cmd.errors) if cmd.errors else "-"))
    out.append("")
    for cmd in c.commands:
        out.append("**%s**%s" % (cmd.name, (": " + cmd.doc) if cmd.doc else ""))
        out.append("")
        out += md_message("Request", cmd.request, c)
        out += md_message("Reply", cmd.reply, c)
        out += md_message("Stream messages", cmd.stream, c)
    for name, e in c.enums.items():
        out.append("**%s**%s: %s." % (name, (" (" + e["doc"] + ")") if e["doc"] else "",
                                      ", ".join('`"%s"`' % v for v in e["values"])))
        out.append("")
    for name, t in c.types.items():
        out.append("**%s**%s" % (name, (": " + t.doc) if t.doc else ""))
        out.append("")
        out += md_fields(t.fields) + [""]
    for e in c.events:
        out.append("**`%s`**%s%s" % (e.type, (": " + e.doc) if e.doc else "",
                                      " Ends its deployment." if e.ends else ""))
        out.append("")
        out += md_fields(e.fields) + [""]
    while out and out[-1] == "":
        out.pop()
    return out


MARK = re.compile(r"^<!-- contract:([a-z0-9_-]+) -->$")


def spec_rewrite(text, contracts, complete):
    lines = text.split("\n")
    out, i, seen = [], 0, set()
    while i < len(lines):
        m = MARK.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        name = m.group(1)
        if name not in contracts:
            raise ContractError("SPEC: marker for unknown contract '%s'" % name)
        end = "<!-- /contract:%s -->" % name
        while i < len(lines) and lines[i] != end:
            i += 1
        if i == len(lines):
            raise ContractError("SPEC: no %s" % end)
        out += [""] + md_contract(contracts[name]) + [""]
        seen.add(name)
    missing = sorted(set(contracts) - seen)
    if missing and complete:
        raise ContractError("SPEC: no tables for %s (add <!-- contract:NAME --> "
                            "<!-- /contract:NAME --> markers)" % ", ".join(missing))
    return "\n".join(out)


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--contracts", default=CONTRACTS, help="the folder of <service>.json")
    p.add_argument("--c", metavar="OUTDIR", help="write the C headers and tables")
    p.add_argument("--spec", metavar="SPEC", help="rewrite SPEC's tables in place")
    p.add_argument("--check", metavar="SPEC", help="fail if SPEC's tables differ")
    args = p.parse_args(argv)
    try:
        contracts = load(args.contracts)
        if args.c:
            emit_c(contracts, args.c)
        for path in filter(None, (args.spec, args.check)):
            with open(path) as f:
                text = f.read()
            new = spec_rewrite(text, contracts, complete=not args.spec)
            if args.spec:
                if new != text:
                    with open(path, "w") as f:
                        f.write(new)
            elif new != text:
                import difflib
                sys.stdout.writelines(difflib.unified_diff(
                    text.splitlines(True), new.splitlines(True), path, "generated"))
                print("%s: the tables differ from protocol/contracts; run "
                      "protocol/gen_contracts.py --spec %s" % (path, path))
                return 1
    except ContractError as e:
        print("gen_contracts: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
