"""The files a wheelhouse needs, from pip's resolution of requirements.txt (run by
``setup_env.sh --download``).

    python tools/wheelhouse_list.py REPORT.json [--skip torch,numpy] [--python-version 3.12]

REPORT.json is ``pip install --dry-run --ignore-installed --report`` of requirements.txt (under
constraints.txt) for the target Python / platform. Prints one ``name==version`` per line: every
package of the resolution, except those in ``--skip`` (what the target machine already has)
and the dependencies that only skipped packages pull in (e.g. torch's CUDA libraries).

This file must not import declip_mmseg: it runs on a machine that may not have it set up.
"""
import argparse
import json
import re
import sys

try:
    from packaging.requirements import Requirement
except ImportError:  # pip's own copy, in a virtual environment without packaging
    from pip._vendor.packaging.requirements import Requirement


def canonical(name: str) -> str:
    """PEP 503 name: 'Open_Clip.torch' -> 'open-clip-torch'."""
    return re.sub(r'[-_.]+', '-', name).lower()


def keep(report: dict, skip=(), python_version=None):
    """``[(name, version)]`` of ``report``'s packages reachable from the requested ones without
    passing through a ``skip`` name, in the report's order. Markers are evaluated for
    ``python_version`` (default: this Python) and the extras each package is asked for."""
    skip = {canonical(s) for s in skip}
    items = {canonical(i['metadata']['name']): i for i in report['install']}
    env = {}
    if python_version:
        env.update(python_version=python_version, python_full_version=f'{python_version}.0')
    # extras asked of each package (torch needs cuda-toolkit[cublas,cudart,...]): a dependency
    # behind `extra == "cudart"` counts when that extra is asked for
    extras = {n: set(i.get('requested_extras') or ()) for n, i in items.items()}
    todo = [n for n, i in items.items() if i.get('requested') and n not in skip]
    reached = set()
    while todo:
        name = todo.pop()
        reached.add(name)
        for line in items[name]['metadata'].get('requires_dist') or ():
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({**env, 'extra': e})
                                                  for e in {''} | extras[name]):
                continue
            dep = canonical(req.name)
            if dep in items and dep not in skip and (dep not in reached or not req.extras <= extras[dep]):
                extras[dep] |= req.extras
                todo.append(dep)
    return [(i['metadata']['name'], i['metadata']['version'])
            for n, i in items.items() if n in reached]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('report')
    parser.add_argument('--skip', default='', help='comma-separated names the target already has')
    parser.add_argument('--python-version', help='X.Y of the target (default: this Python)')
    args = parser.parse_args(argv)
    with open(args.report) as f:
        report = json.load(f)
    rows = keep(report, [s for s in args.skip.split(',') if s.strip()], args.python_version)
    if not rows:
        sys.exit(f'{args.report}: nothing left to download (is every requirement in --skip?)')
    print('\n'.join(f'{n}=={v}' for n, v in rows))


if __name__ == '__main__':
    main()
