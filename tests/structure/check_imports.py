# Module import cycles inside each crate: edges from `crate::a` / `super::` references (tests excluded).
import os, re, sys
roots = sys.argv[1:]
for root in roots:
    src = os.path.join(root, 'src')
    mods = {}
    for dp, _, fs in os.walk(src):
        for f in fs:
            if not f.endswith('.rs'): continue
            path = os.path.join(dp, f)
            rel = os.path.relpath(path, src)[:-3]
            name = rel.replace('/mod', '').replace('/', '::')
            if name in ('lib', 'main'): name = ''
            text = open(path).read()
            cut = text.find('#[cfg(test)]')
            if cut >= 0: text = text[:cut]
            mods[name] = text
    edges = {}
    names = set(mods)
    for m, text in mods.items():
        if m.endswith('_tests'): continue
        deps = set()
        for ref in re.findall(r'crate::([a-z_]+)', text):
            if ref in names and ref != m: deps.add(ref)
        for line in re.findall(r'use crate::\{([^}]*)\}', text):
            for part in line.split(','):
                part = part.strip().split('::')[0]
                if part in names and part != m: deps.add(part)
        if m:
            parent = m.rsplit('::', 1)[0] if '::' in m else ''
            if re.search(r'\bsuper::', text) and parent in names and parent != '': deps.add(parent)
        edges[m] = deps
    # cycles among non-root modules
    found = []
    def dfs(node, stack, seen):
        for d in edges.get(node, ()):
            if d == '': continue
            if d in stack:
                found.append(stack[stack.index(d):] + [d]); continue
            if d in seen: continue
            seen.add(d); dfs(d, stack + [d], seen)
    for m in edges:
        if m: dfs(m, [m], {m})
    uniq = {tuple(sorted(set(c))) for c in found}
    print(root, 'cycles:', sorted(uniq) if uniq else 'none')
