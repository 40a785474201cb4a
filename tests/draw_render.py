#!/usr/bin/env python3
"""draw_render.py - xe-gpupool host-draw end to end, and the picture drawn.

On the embedded dual-socket 8-GPU host with the sim driver (the scenario of
docs/host-draw.md: pools training and inference, four VMs with pinned
pCPUs, 0000:5d:00.0 stranded), in a scratch directory:

  xmllint    `xmllint --noout` accepts the file host-draw wrote (skipped
             without xmllint: apt-get install libxml2-utils);
  plugin     the plugin's host_svg returns {"svg": <the same bytes>} (run as
             xapi runs it, tests/plugin_call.py);
  render     headless Chromium screenshots the SVG at its own size: the PNG
             (decoded here with zlib) is not blank - at least 8% of its
             pixels clearly painted (a channel below 224), at least 8
             distinct colours - and the
             centre of every pCPU cell and of every legend swatch has the
             fill the SVG gives it (within 8 per channel), so the colours
             really are painted where the SVG says (skipped without
             chromium: apt-get install chromium).

Output ends with cmocka-style totals that tests/run-tests counts; exit 1
if a check fails.  A failing run keeps its scratch directory.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "xe-cli", "xe-gpupool")
PLUGIN = os.path.join(ROOT, "xapi-plugin", "gpupool")
NS = "{http://www.w3.org/2000/svg}"

SCENARIO = [
    ["pool-create", "name-label=training"],
    ["pool-create", "name-label=inference", "numa-policy=preferred"],
] + [["pool-gpu-add", "pool=training", "pci-id=" + g]
     for g in ("0000:18:00.0", "0000:2a:00.0", "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0")] + [
    ["pool-gpu-add", "pool=inference", "pci-id=0000:3a:00.0"],
    ["pool-gpu-add", "pool=inference", "pci-id=0000:ba:00.0"],
    ["sim-vm-create", "name-label=llm-a", "vcpus=16", "memory=131072"],
    ["sim-vm-create", "name-label=llm-b", "vcpus=24", "memory=262144"],
    ["sim-vm-create", "name-label=vision", "vcpus=8", "memory=65536"],
    ["sim-vm-create", "name-label=chat", "vcpus=4", "memory=32768"],
    ["vm-gpu-assign", "vm=llm-a", "pool=training"],
    ["vm-gpu-assign", "vm=llm-b", "pool=training"],
    ["vm-gpu-assign", "vm=vision", "pool=inference"],
    ["vm-gpu-assign", "vm=chat", "pool=inference"],
    ["sim-vm-start", "vm=llm-a"],
    ["sim-vm-start", "vm=vision"],
]


def env_for(top):
    e = dict(os.environ)
    for k in ("GPUPOOL_SYSFS_ROOT", "GPUPOOL_PCI_DUMP", "GPUPOOL_GPU_CLASSES"):
        e.pop(k, None)
    e.update(GPUPOOL_CONFIG=os.path.join(top, "gpupool.conf"),
             GPUPOOL_DB=os.path.join(top, "state.db"), GPUPOOL_DRIVER="sim",
             GPUPOOL_TOPOLOGY="embedded")
    return e


def xe(top, *args):
    r = subprocess.run([CLI] + list(args), env=env_for(top), capture_output=True, text=True,
                       timeout=60)
    if r.returncode:
        raise RuntimeError("xe-gpupool %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def which(name, fallback=None):
    p = shutil.which(name)
    return p or (fallback if fallback and os.access(fallback, os.X_OK) else None)


# ---- PNG (RFC 2083): 8-bit RGB / RGBA, not interlaced ------------------------------

def png_decode(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("PNG depth %d colour type %d interlace %d not handled" %
                         (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xff
            elif f == 2:
                line[x] = (line[x] + b) & 0xff
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 0xff
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def pixel(img, x, y):
    w, h, bpp, rows = img
    return tuple(rows[y][x * bpp:x * bpp + 3])


def hex_rgb(s):
    return tuple(int(s[i:i + 2], 16) for i in (1, 3, 5))


# ---- tests ------------------------------------------------------------------------

def test_xmllint(top, svg_path, svg):
    lint = which("xmllint")
    if not lint:
        return "SKIP no xmllint (apt-get install libxml2-utils)"
    r = subprocess.run([lint, "--noout", svg_path], capture_output=True, text=True, timeout=60)
    print("  xmllint --noout: exit %d %s" % (r.returncode, r.stderr.strip()))
    return r.returncode == 0 and r.stderr == ""


def test_plugin(top, svg_path, svg):
    with open(os.path.join(top, "gpupool.conf"), "w") as f:
        f.write("db = %s\ndriver = sim\ntopology = embedded\n" % os.path.join(top, "state.db"))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "plugin_call.py"), PLUGIN,
                        os.path.join(top, "gpupool.conf"), "host_svg"],
                       capture_output=True, text=True, timeout=120)
    s = json.loads(r.stdout)
    ok = s["status"] == "Success" and list(s["value"].keys()) == ["svg"] and \
        s["value"]["svg"].encode() == svg
    print("  host_svg: status %s, %d bytes, same as the file: %s" %
          (s["status"], len(s["value"]["svg"]) if s["value"] else 0, ok))
    return ok


def test_render(top, svg_path, svg):
    chromium = which("chromium", "/usr/bin/chromium") or which("chromium-browser")
    if not chromium:
        return "SKIP no chromium (apt-get install chromium)"
    root = ET.fromstring(svg)
    w, h = int(root.get("width")), int(root.get("height"))
    png = os.path.join(top, "host.png")
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--force-device-scale-factor=1",
                        "--user-data-dir=" + os.path.join(top, "chromium"),
                        "--screenshot=" + png, "--window-size=%d,%d" % (w, h),
                        "file://" + svg_path],
                       capture_output=True, text=True, timeout=180, cwd=top)
    if r.returncode or not os.path.exists(png):
        print("  chromium exit %d: %s" % (r.returncode, r.stderr[-2000:]))
        return False
    with open(png, "rb") as f:
        img = png_decode(f.read())
    iw, ih = img[0], img[1]
    colours, non_white = set(), 0
    for y in range(ih):
        for x in range(iw):
            p = pixel(img, x, y)
            colours.add(p)
            non_white += min(p) < 224     # clearly painted, not a faint tint
    share = non_white / float(iw * ih)
    print("  screenshot %dx%d: %.1f%% painted pixels, %d colours" %
          (iw, ih, 100 * share, len(colours)))
    ok = (iw, ih) == (w, h) and share >= 0.08 and len(colours) >= 8
    # every pCPU cell and legend swatch painted in its fill, where the SVG puts it
    checked, wrong = 0, []
    for el in root.iter(NS + "rect"):
        cls = el.get("class") or ""
        if not (cls.startswith("pcpu") or cls == "legend-swatch"):
            continue
        cx = int(el.get("x")) + int(el.get("width")) // 2
        cy = int(el.get("y")) + int(el.get("height")) // 2
        want, got = hex_rgb(el.get("fill")), pixel(img, cx, cy)
        checked += 1
        if max(abs(a - b) for a, b in zip(want, got)) > 8:
            wrong.append("%s at (%d,%d): %s, painted %s" % (el.get("id"), cx, cy,
                                                            el.get("fill"), got))
    print("  %d cells and swatches checked, %d wrong%s" %
          (checked, len(wrong), "".join("\n    " + x for x in wrong[:10])))
    return ok and checked == 96 + 5 and not wrong


def main():
    os.chdir(ROOT)
    for b in (CLI, PLUGIN):
        if not os.access(b, os.X_OK):
            print("%s is not built (make all)" % b)
            print("[  FAILED  ] 1 test(s), listed below:")
            return 1
    tmp_root = os.path.join(ROOT, "tests", "tmp")
    os.makedirs(tmp_root, exist_ok=True)
    top = tempfile.mkdtemp(prefix="draw_render.", dir=tmp_root)
    open(os.path.join(top, "gpupool.conf"), "w").close()
    for cmd in SCENARIO:
        xe(top, *cmd)
    svg_path = os.path.join(top, "host.svg")
    xe(top, "host-draw", "out=" + svg_path)
    with open(svg_path, "rb") as f:
        svg = f.read()

    tests = [("xmllint", test_xmllint), ("plugin", test_plugin), ("render", test_render)]
    passed, failed, skipped = [], [], []
    print("[==========] draw_render: Running %d test(s)." % len(tests))
    for name, fn in tests:
        print("[ RUN      ] %s" % name)
        t0 = time.monotonic()
        try:
            res = fn(top, svg_path, svg)
        except Exception as e:
            print("  HARNESS ERROR %s: %s" % (type(e).__name__, e))
            res = False
        sys.stdout.flush()
        if isinstance(res, str) and res.startswith("SKIP"):
            print("[  SKIPPED ] %s: %s" % (name, res[5:]))
            skipped.append(name)
        elif res:
            print("[       OK ] %s (%.0f s)" % (name, time.monotonic() - t0))
            passed.append(name)
        else:
            print("[  FAILED  ] %s (%.0f s)" % (name, time.monotonic() - t0))
            failed.append(name)
    print("[==========] draw_render: %d test(s) run." % len(tests))
    print("[  PASSED  ] %d test(s)." % len(passed))
    if skipped:
        print("[  SKIPPED ] %d test(s), listed below:" % len(skipped))
        for n in skipped:
            print("[  SKIPPED ] %s" % n)
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % len(failed))
        for n in failed:
            print("[  FAILED  ] %s" % n)
        print("scratch directory kept: %s" % top)
        return 1
    shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
