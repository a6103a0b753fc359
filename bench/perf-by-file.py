#!/usr/bin/env python3
"""Where two processes spend CPU, by source file: the table in bench/README.md comes from this.

Each `perf script` sample is charged to the innermost JavaScript frame's file (node:* modules,
node_modules packages, dist/src files), or to "(no JS frame)" (event loop, kernel, GC, threads).
Both processes must run with `node --perf-basic-prof` and take the same number of requests.

  perf record -e cpu-clock -g -p <pid> -o gw.data -- sleep 10     (during a fixed-rate load)
  perf script -i gw.data -F comm,tid,ip,sym,dso > gw.txt           (same for the bare proxy)
  python3 bench/perf-by-file.py gw.txt bare.txt <requests in the window>
"""
import collections
import re
import sys

SAMPLE_US = 250  # perf's cpu-clock default: 4,000 samples per CPU-second
KERNEL_PATHS = ['tcp_sendmsg', 'tcp_recvmsg', 'epoll_wait', 'futex', 'write', 'read', 'page_fault']


def by_file(path):
    counts = collections.Counter()
    for block in open(path, encoding='utf-8', errors='replace').read().split('\n\n'):
        lines = [l.strip() for l in block.strip().split('\n') if l.strip()]
        if len(lines) < 2:
            continue
        frames = [l.split(' ', 1)[1] if ' ' in l else l for l in lines[1:]]
        js = next((f for f in frames if f.startswith('JS:')), None)
        # Kernel samples by the system call path they are in (on loopback, tcp_sendmsg includes the
        # receiver's TCP processing: a Redis GET written pays for delivering it into redis-server).
        if '[kernel.kallsyms]' in lines[1]:
            path = ' '.join(frames)
            kind = next((k for k in KERNEL_PATHS if k in path), 'other')
            counts[f'kernel: {kind}'] += 1
            continue
        if any(k in ' '.join(frames) for k in ('Scavenge', 'Heap::', 'MarkCompact')):
            counts['V8 garbage collector'] += 1
            continue
        if js is None:
            counts['(no JS frame)'] += 1
            continue
        m = re.search(r'(node:[\w/]+|file://\S+?\.js|/\S+?\.js)', js)
        name = m.group(1) if m else 'JS (unnamed)'
        name = re.sub(r'.*node_modules/', '', name)
        name = re.sub(r'^file://.*?/dist/', '', name)
        counts[name] += 1
    return counts


def main():
    a, b = by_file(sys.argv[1]), by_file(sys.argv[2])
    requests = float(sys.argv[3])
    per_req = SAMPLE_US / requests
    print(f'{"file":48s} {"A µs/req":>9s} {"B µs/req":>9s} {"A − B":>7s}')
    for name in sorted(set(a) | set(b), key=lambda k: -(a[k] - b[k]))[:30]:
        print(f'{name[:48]:48s} {a[name] * per_req:9.1f} {b[name] * per_req:9.1f} {(a[name] - b[name]) * per_req:7.1f}')
    print(f'{"total":48s} {sum(a.values()) * per_req:9.1f} {sum(b.values()) * per_req:9.1f} {(sum(a.values()) - sum(b.values())) * per_req:7.1f}')


if __name__ == '__main__':
    main()
