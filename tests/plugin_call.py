#!/usr/bin/env python3
"""Run the gpupool XAPI plugin exactly as xapi does, decode its reply with a
real XML-RPC implementation, print a JSON summary (for tests/test_plugin.c).

    plugin_call.py PLUGIN CONFIG FN [key=value | key=@FILE ...]
    plugin_call.py PLUGIN CONFIG --xe 'xe host-call-plugin ... fn=F args:k=v'
    plugin_call.py PLUGIN CONFIG --raw FILE     (argv[1] taken from FILE as is)

As xapi (ocaml/xapi/xapi_plugins.ml): argv[1] is one methodCall on one line,
no XML declaration, strings as bare <value>text</value>, the empty string as
<value/>, param 1 the session ref, param 2 a struct of strings; stdin is
/dev/null; the environment is only PATH (plus GPUPOOL_CONFIG, which is how
a test points the plugin at its configuration).

Summary: {"exit": int, "stderr": str, "stdout_bytes": int, "xml_decl": bool,
"status": "Success"|"Failure"|null, "value": <parsed JSON>|null,
"value_raw": str|null, "error": [..]|null, "decode_error": str|null}
"""
import json
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
import xmlrpc.client

SESSION = "OpaqueRef:plugin-session"


def method_call(fn, args, session=SESSION):
    call = ET.Element("methodCall")
    ET.SubElement(call, "methodName").text = fn
    params = ET.SubElement(call, "params")
    ET.SubElement(ET.SubElement(params, "param"), "value").text = session
    v = ET.SubElement(ET.SubElement(params, "param"), "value")
    st = ET.SubElement(v, "struct")
    for k, val in args.items():
        m = ET.SubElement(st, "member")
        ET.SubElement(m, "name").text = k
        ev = ET.SubElement(m, "value")
        if val != "":
            ev.text = val  # bare <value>text</value>; "" stays <value />
    return ET.tostring(call, encoding="unicode")


def run(plugin, config, argv1):
    env = {"PATH": "/sbin:/usr/sbin:/bin:/usr/bin", "GPUPOOL_CONFIG": config}
    p = subprocess.run([plugin, argv1], stdin=subprocess.DEVNULL, capture_output=True,
                       env=env, timeout=120)
    out = {"exit": p.returncode, "stderr": p.stderr.decode("utf-8", "replace"),
           "stdout_bytes": len(p.stdout), "xml_decl": p.stdout.startswith(b"<?xml"),
           "status": None, "value": None, "value_raw": None, "error": None,
           "decode_error": None}
    try:
        params, method = xmlrpc.client.loads(p.stdout.decode("utf-8"))
        if method is not None or len(params) != 1:
            raise ValueError("not a methodResponse with one param")
        r = params[0]
        out["status"] = r.get("Status")
        if r.get("Status") == "Success":
            if not isinstance(r.get("Value"), str):
                raise ValueError("Value is not a string")
            out["value_raw"] = r["Value"]
            out["value"] = json.loads(r["Value"])
        else:
            out["error"] = r.get("ErrorDescription")
            if set(r) != {"Status", "ErrorDescription"}:
                raise ValueError("unexpected members %s" % sorted(r))
    except Exception as e:  # any decode problem is the finding
        out["decode_error"] = "%s: %s" % (type(e).__name__, e)
    return out


def parse_args(items):
    args = {}
    for it in items:
        k, _, v = it.partition("=")
        if v.startswith("@"):
            with open(v[1:], encoding="utf-8") as f:
                v = f.read()
        args[k] = v
    return args


def main():
    plugin, config = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    if rest[0] == "--raw":
        with open(rest[1], encoding="utf-8") as f:
            argv1 = f.read()
    elif rest[0] == "--xe":
        fn, args = None, {}
        for w in shlex.split(rest[1]):
            if w.startswith("fn="):
                fn = w[3:]
            elif w.startswith("args:"):
                k, _, v = w[5:].partition("=")
                args[k] = v
        argv1 = method_call(fn, args)
    else:
        argv1 = method_call(rest[0], parse_args(rest[1:]))
    print(json.dumps(run(plugin, config, argv1)))


if __name__ == "__main__":
    main()
