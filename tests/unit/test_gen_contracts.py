#!/usr/bin/env python3
"""test_gen_contracts.py - the contract generator (protocol/gen_contracts.py).

Checks that protocol/SPEC.md's tables are the ones the contracts give (the
test CI runs so that the two cannot drift), that a SPEC whose table differs
by one word fails that check, and that the generator refuses a contract
that is wrong in each of the ways it checks, with a sentence naming where.
"""
import io
import json
import os
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "protocol"))
import gen_contracts  # noqa: E402

SPEC = os.path.join(TOP, "protocol", "SPEC.md")
GOOD = {
    "service": "demo",
    "types": {"ITEM": {"fields": [{"name": "id", "type": "str", "required": True}]}},
    "commands": [{
        "name": "Get", "callers": ["viewer"], "idempotent": True,
        "request": [{"name": "id", "type": "str", "required": True, "max": 64}],
        "reply": [{"name": "items", "type": "[ITEM]", "required": True}],
        "errors": ["NOT_FOUND"],
    }],
}


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = gen_contracts.main(list(args))
    return rc, out.getvalue() + err.getvalue()


class SpecTables(unittest.TestCase):
    def test_spec_tables_are_the_generated_ones(self):
        rc, text = run("--check", SPEC)
        self.assertEqual(rc, 0, text)

    def test_a_table_edited_by_hand_fails_the_check(self):
        with open(SPEC) as f:
            spec = f.read()
        # The first generated field row of the first contract, one word changed.
        start = spec.index("<!-- contract:")
        row = spec.index("| yes |", start)
        changed = spec[:row] + "| no |" + spec[row + len("| yes |"):]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "SPEC.md")
            with open(path, "w") as f:
                f.write(changed)
            rc, text = run("--check", path)
            self.assertEqual(rc, 1)
            self.assertIn("the tables differ", text)
            # --spec puts it right.
            self.assertEqual(run("--spec", path)[0], 0)
            self.assertEqual(run("--check", path)[0], 0)

    def test_a_contract_without_tables_fails_the_check(self):
        with open(SPEC) as f:
            spec = f.read()
        name = spec[spec.index("<!-- contract:") + 14:].split(" ", 1)[0]
        begin = spec.index("<!-- contract:%s -->" % name)
        end = spec.index("<!-- /contract:%s -->" % name) + len("<!-- /contract:%s -->" % name)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "SPEC.md")
            with open(path, "w") as f:
                f.write(spec[:begin] + spec[end:])
            rc, text = run("--check", path)
            self.assertEqual(rc, 2)
            self.assertIn("no tables for %s" % name, text)


class Refusals(unittest.TestCase):
    def refused(self, contract, words, raw=None):
        tmp = tempfile.mkdtemp()
        try:
            with open(os.path.join(tmp, "demo.json"), "w") as f:
                f.write(raw if raw is not None else json.dumps(contract))
            rc, text = run("--contracts", tmp, "--c", os.path.join(tmp, "out"))
            self.assertEqual(rc, 2, text)
            self.assertIn(words, text)
        finally:
            shutil.rmtree(tmp)

    def edit(self, change):
        contract = json.loads(json.dumps(GOOD))
        change(contract)
        return contract

    def test_the_good_one_is_taken(self):
        tmp = tempfile.mkdtemp()
        try:
            with open(os.path.join(tmp, "demo.json"), "w") as f:
                json.dump(GOOD, f)
            rc, text = run("--contracts", tmp, "--c", os.path.join(tmp, "out"))
            self.assertEqual(rc, 0, text)
            with open(os.path.join(tmp, "out", "flotilla", "contract_demo.h")) as f:
                header = f.read()
            self.assertIn("flot_demo_get_request_t", header)
            self.assertIn("flot_array_t items;", header)
        finally:
            shutil.rmtree(tmp)

    def test_one_instance_at_a_time_is_in_the_command_table(self):
        tmp = tempfile.mkdtemp()
        try:
            for instances, c_value in (("one", "true"), (None, "false")):
                contract = json.loads(json.dumps(GOOD))
                if instances:
                    contract["instances"] = instances
                with open(os.path.join(tmp, "demo.json"), "w") as f:
                    json.dump(contract, f)
                rc, text = run("--contracts", tmp, "--c", os.path.join(tmp, "out"))
                self.assertEqual(rc, 0, text)
                with open(os.path.join(tmp, "out", "contracts.c")) as f:
                    self.assertIn('"demo", s_demo_commands, 1, %s' % c_value, f.read())
        finally:
            shutil.rmtree(tmp)

    def test_instances_neither_one_nor_many(self):
        self.refused(self.edit(lambda c: c.update(instances="two")),
                     'instances is "one" or "many", not "two"')

    def test_an_unknown_key(self):
        self.refused(self.edit(lambda c: c["commands"][0].update(idempotnet=True)),
                     "unknown key 'idempotnet'")

    def test_a_missing_key(self):
        self.refused(self.edit(lambda c: c["commands"][0].pop("callers")),
                     "'callers' is required")

    def test_an_unknown_type(self):
        self.refused(self.edit(lambda c: c["commands"][0]["reply"][0].update(type="[THING]")),
                     "no type 'THING'")

    def test_a_caller_that_is_no_role(self):
        self.refused(self.edit(lambda c: c["commands"][0].update(callers=["admin"])),
                     "caller 'admin' is not viewer, operator or service:NAME")

    def test_an_error_that_is_no_code(self):
        self.refused(self.edit(lambda c: c["commands"][0].update(errors=["GONE"])),
                     "error 'GONE' is not a code")

    def test_a_field_defined_twice(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"].append(
            {"name": "id", "type": "uint"})), "field 'id' is defined twice")

    def test_a_default_of_the_wrong_type(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"].append(
            {"name": "n", "type": "uint", "default": "ten"})), "does not fit type uint")

    def test_a_key_given_twice_in_the_file(self):
        self.refused(None, "key 'service' is given twice",
                     raw='{"service": "demo", "service": "demo", "commands": []}')

    def test_a_negative_count(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"][0].update(min=-1)),
                     "min must not be negative")

    def test_limits_that_cross(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"][0].update(min=9, max=3)),
                     "min 9 is above max 3")

    def test_a_default_outside_its_enum(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"].append(
            {"name": "mode", "type": "str", "enum": ["a", "b"], "default": "c"})),
            "default 'c' is not one of enum")

    def test_an_enum_on_an_array(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"].append(
            {"name": "modes", "type": "[str]", "enum": ["a"]})), "enum is for a str field")

    def test_names_that_collide_in_c(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"].extend(
            [{"name": "fooBar", "type": "str"}, {"name": "foo_bar", "type": "str"}])),
            "is 'foo_bar' in C")

    def test_a_command_defined_twice(self):
        self.refused(self.edit(lambda c: c["commands"].append(dict(c["commands"][0]))),
                     "command 'Get' is defined twice")

    def test_a_limit_on_a_bool(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"].append(
            {"name": "flag", "type": "bool", "max": 1})), "min and max do not apply")

    def test_an_int_limit_beyond_int64(self):
        self.refused(self.edit(lambda c: c["commands"][0]["request"].append(
            {"name": "n", "type": "int", "max": 1 << 63})), "max is out of range")

    def test_a_file_named_for_another_service(self):
        self.refused(self.edit(lambda c: c.update(service="other")),
                     "must be in other.json")


if __name__ == "__main__":
    unittest.main(verbosity=2)
