/* Tests of the container build: both Dockerfiles pass the linter and the
 * project's rules, broken copies fail, the .dockerignore keeps what the
 * build needs, and the build stage's own commands, run on a copy of the
 * context the .dockerignore leaves, produce binaries whose shared
 * libraries are exactly the runtime stage's packages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerignoreErrors, lintDockerfile, runtimeLibErrors, stages } from './dockerfile.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVICES = { 'stateful-svc': 8080, 'stateless-svc': 8081 };

/* Text of a service's Dockerfile. */
function dockerfile(service) {
  return readFileSync(join(ROOT, 'deploy', 'docker', `${service}.Dockerfile`), 'utf8');
}

for (const [service, port] of Object.entries(SERVICES)) {
  test(`${service}.Dockerfile passes the linter and the project rules`, () => {
    assert.deepEqual(lintDockerfile(dockerfile(service), service, port), []);
  });
}

/* Each case edits the stateful Dockerfile; lint must report the match. */
const BROKEN = [
  ['an unknown instruction', /Unknown instruction: USR/, ['USER 10001:10001', 'USR 10001']],
  ['JSON in single quotes', /single quotes/, ['["/usr/local/bin/stateful-svc"]', "['/usr/local/bin/stateful-svc']"]],
  ['running as root', /numeric non-root USER/, ['USER 10001:10001', 'USER root']],
  ['no USER at all', /numeric non-root USER/, ['USER 10001:10001\n', '']],
  ['curl in the runtime image', /installs curl/, ['libmicrohttpd12 libjansson4', 'libmicrohttpd12 libjansson4 curl']],
  ['a -dev package in the runtime image', /build package libjansson-dev/, ['libmicrohttpd12 libjansson4', 'libmicrohttpd12 libjansson-dev']],
  ['a full Debian runtime image', /debian:bookworm-slim/, ['FROM debian:bookworm-slim', 'FROM debian:bookworm']],
  ['a shell-form ENTRYPOINT', /exec form/, ['ENTRYPOINT ["/usr/local/bin/stateful-svc"]', 'ENTRYPOINT /usr/local/bin/stateful-svc']],
  ['loopback-only listening', /LISTEN_ADDR=0.0.0.0/, ['LISTEN_ADDR=0.0.0.0', 'LISTEN_ADDR=127.0.0.1']],
  ['tests built in the image', /CARTPAIR_TESTS=OFF/, ['-DCARTPAIR_TESTS=OFF', '']],
  ['a single stage', /expected 2 stages/, [/FROM debian:bookworm AS build[\s\S]*?\n(?=FROM)/, '']],
];

for (const [what, expected, [from, to]] of BROKEN) {
  test(`broken Dockerfile: ${what} fails the lint`, () => {
    const text = dockerfile('stateful-svc');
    const broken = text.replace(from, to);
    assert.notEqual(broken, text, 'the edit changed nothing');
    const errs = lintDockerfile(broken, 'stateful-svc', 8080);
    assert.ok(errs.some((e) => expected.test(e)), `expected ${expected} among:\n${errs.join('\n')}`);
  });
}

test('.dockerignore keeps the sources and drops build output', () => {
  const text = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
  assert.deepEqual(dockerignoreErrors(text), []);
  assert.ok(dockerignoreErrors(text + '\ncommon/\n').some((e) => e.includes('excludes common')));
  assert.ok(dockerignoreErrors(text.replace(/^\.git$/m, '')).some((e) => e.includes('exclude .git')));
});

/* Docker-style ignore matching: a pattern excludes a path or any parent. */
function ignored(pats, rel) {
  let out = false;
  const parts = rel.split('/');
  for (const raw of pats) {
    const neg = raw.startsWith('!');
    const p = (neg ? raw.slice(1) : raw).replace(/^\/+/, '').replace(/\/+$/, '');
    const re = new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '\u0000')
      .replace(/\*\*/g, '.*').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]').replace(/\u0000/g, '(?:.*/)?') + '$');
    for (let i = 1; i <= parts.length; i++) {
      if (re.test(parts.slice(0, i).join('/'))) { out = !neg; break; }
    }
  }
  return out;
}

/* Copy the repository as Docker would send it as the build context. */
function copyContext(dest) {
  const pats = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')
    .map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const walk = (rel) => {
    for (const ent of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ignored(pats, r)) continue;
      if (ent.isDirectory()) { mkdirSync(join(dest, r)); walk(r); }
      else if (ent.isFile()) cpSync(join(ROOT, r), join(dest, r));
    }
  };
  walk('');
}

test('ignore matching follows Docker patterns', () => {
  const pats = ['build*/', '**/node_modules/', '.git'];
  assert.ok(ignored(pats, 'build-asan/x.o'));
  assert.ok(ignored(pats, 'deploy/validate/node_modules/yaml/index.js'));
  assert.ok(ignored(pats, '.git/HEAD'));
  assert.ok(!ignored(pats, 'common/cart.c'));
  assert.ok(!ignored(pats, 'tests/build.c'));
});

test('the build stage commands build both services from the context; runtime libraries match', { timeout: 900000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cartpair-docker-'));
  try {
    const ctx = join(dir, 'src');
    mkdirSync(ctx);
    copyContext(ctx);
    assert.ok(readdirSync(ctx).includes('CMakeLists.txt'));
    for (const service of Object.keys(SERVICES)) {
      const text = dockerfile(service);
      const build = stages(text)[0];
      const out = join(dir, `build-${service}`);
      for (const ins of build.body.filter((i) => i.keyword === 'RUN' && i.args.includes('cmake'))) {
        /* The same commands, with the image's /build directory moved here. */
        const cmd = ins.args.replaceAll('/build', out);
        execFileSync('sh', ['-c', cmd], { cwd: ctx, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600000 });
      }
      const bin = join(out, service);
      assert.deepEqual(runtimeLibErrors(text, bin), []);
      /* And the check does fail when a needed library is left out. */
      const missing = runtimeLibErrors(text.replace(' libjansson4', ''), bin);
      assert.ok(missing.some((e) => e.includes('libjansson4')), missing.join('\n'));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
