#!/usr/bin/env python3
"""srcscan.py MODE REGEX DIR... - grep C sources for what XCP-ng 8.3 lacks.

MODE "code": REGEX is matched against each line with comments and string
literals blanked out.  MODE "sql": REGEX is matched against every string
literal, adjacent literals joined ("CREATE TABLE x (" "a INT" ...), as
sqlite will see them.  A hit on a line holding "xcpng83: guarded" (e.g. a
use behind sqlite3_libversion_number()) is let through.  Prints
file:line: text for each hit; exit 1 if any.
"""
import os
import re
import sys


def scan(src):
    """(code with comments/literals blanked, [(line, joined literal)])."""
    code, lits = [], []
    i, n, line = 0, len(src), 1
    cur = None          # [start line, text] of the literal being joined
    while i < n:
        c = src[i]
        if src.startswith('//', i):
            j = src.find('\n', i)
            j = n if j < 0 else j
            code.append(' ' * (j - i))
            i = j
        elif src.startswith('/*', i):
            j = src.find('*/', i + 2)
            j = n if j < 0 else j + 2
            chunk = src[i:j]
            code.append(re.sub(r'[^\n]', ' ', chunk))
            line += chunk.count('\n')
            i = j
        elif c in '"\'':
            j, buf = i + 1, []
            while j < n and src[j] != c:
                if src[j] == '\\' and j + 1 < n:
                    buf.append(src[j:j + 2])
                    j += 2
                    continue
                if src[j] == '\n':
                    break
                buf.append(src[j])
                j += 1
            text = ''.join(buf)
            closed = j < n and src[j] == c
            code.append(c + ' ' * (j - i - 1) + (c if closed else ''))
            if c == '"':
                if cur is None:
                    cur = [line, text]
                else:
                    cur[1] += text
            i = j + 1 if closed else j
        else:
            if not c.isspace() and cur is not None:
                lits.append(tuple(cur))
                cur = None
            if c == '\n':
                line += 1
            code.append(c)
            i += 1
    if cur is not None:
        lits.append(tuple(cur))
    return ''.join(code), lits


def main():
    mode, rx, roots = sys.argv[1], re.compile(sys.argv[2]), sys.argv[3:]
    hits = 0
    for root in roots:
        for dp, dns, fns in os.walk(root):
            dns.sort()
            for f in sorted(fns):
                if not f.endswith(('.c', '.h')):
                    continue
                p = os.path.join(dp, f)
                with open(p, encoding='utf-8', errors='replace') as fh:
                    src = fh.read()
                lines = src.split('\n')
                code, lits = scan(src)
                if mode == 'code':
                    found = [(k + 1, l) for k, l in enumerate(code.split('\n')) if rx.search(l)]
                else:
                    found = [(ln, t) for ln, t in lits if rx.search(t)]
                for ln, _ in found:
                    orig = lines[ln - 1] if ln - 1 < len(lines) else ''
                    if 'xcpng83: guarded' in orig:
                        continue
                    print('%s:%d: %s' % (p, ln, orig.strip()))
                    hits += 1
    return 1 if hits else 0


if __name__ == '__main__':
    sys.exit(main())
