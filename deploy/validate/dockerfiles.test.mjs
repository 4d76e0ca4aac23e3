/* Tests of the container build files: both Dockerfiles pass the linter and
 * the project's rules, broken copies fail, the build stage installs the
 * package of every header the sources include, the .dockerignore keeps
 * what the build needs, and the build stage's own commands, run on a copy
 * of the context the .dockerignore leaves, build both services and lay out
 * a runtime tree of exactly the binary and its ldd libraries, which runs
 * on its own (chroot, as root). The images themselves are built and
 * started by deploy/docker/build and deploy/docker/smoke (CI). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPackageErrors, dockerignoreErrors, expectedRootfs, headerPackages, lintDockerfile, stages } from './dockerfile.mjs';

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

test('both Dockerfiles build on the same pinned base', () => {
  const froms = Object.keys(SERVICES).map((s) => stages(dockerfile(s))[0].from);
  assert.equal(new Set(froms).size, 1, froms.join(' '));
});

/* Each case edits the stateful Dockerfile; lint must report the match. */
const BROKEN = [
  ['an unknown instruction', /Unknown instruction: USR/, ['USER 10001:10001', 'USR 10001']],
  ['JSON in single quotes', /single quotes/, ['["/usr/local/bin/stateful-svc"]', "['/usr/local/bin/stateful-svc']"]],
  ['running as root', /numeric non-root USER/, ['USER 10001:10001', 'USER root']],
  ['no USER at all', /numeric non-root USER/, ['USER 10001:10001\n', '']],
  ['an unpinned build base', /pinned Debian bookworm point release/, ['debian:12.15 AS build', 'debian:bookworm AS build']],
  ['a Debian runtime image', /must be FROM scratch/, ['FROM scratch', 'FROM debian:bookworm-slim']],
  ['packages installed in the runtime image', /must not RUN/, ['COPY --from=build /rootfs/ /', 'COPY --from=build /rootfs/ /\nRUN apt-get install -y curl']],
  ['the binary copied without its libraries', /COPY --from=build \/rootfs\/ \//, ['COPY --from=build /rootfs/ /', 'COPY --from=build /build/stateful-svc /usr/local/bin/stateful-svc']],
  ['no runtime tree laid out', /deploy\/docker\/rootfs/, [' \\\n && deploy/docker/rootfs /build/stateful-svc /rootfs 10001', '']],
  ['no revision label', /LABEL org.opencontainers.image.revision/, ['org.opencontainers.image.revision=', 'org.opencontainers.image.rev=']],
  ['a shell-form ENTRYPOINT', /exec form/, ['ENTRYPOINT ["/usr/local/bin/stateful-svc"]', 'ENTRYPOINT /usr/local/bin/stateful-svc']],
  ['loopback-only listening', /LISTEN_ADDR=0.0.0.0/, ['LISTEN_ADDR=0.0.0.0', 'LISTEN_ADDR=127.0.0.1']],
  ['tests built in the image', /CARTPAIR_TESTS=OFF/, ['-DCARTPAIR_TESTS=OFF', '']],
  ['a single stage', /expected 2 stages/, [/FROM docker.io\/library\/debian:12.15 AS build[\s\S]*?\n(?=FROM)/, '']],
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
  assert.ok(dockerignoreErrors(text.replace('!deploy/docker/rootfs', '')).some((e) => e.includes('deploy/docker/rootfs')));
});

test('the build stage installs the package of every header the services include', () => {
  const headers = headerPackages(ROOT, ['common', 'stateful-svc', 'stateless-svc']);
  assert.ok([...headers.values()].includes('uthash-dev'), [...headers.values()].join(' '));
  for (const service of Object.keys(SERVICES)) {
    assert.deepEqual(buildPackageErrors(dockerfile(service), headers), []);
  }
  /* The finding this rule is for: uthash.h without uthash-dev. */
  const errs = buildPackageErrors(dockerfile('stateful-svc').replace(' uthash-dev', ''), headers);
  assert.ok(errs.some((e) => e.includes('uthash-dev for <uthash.h>')), errs.join('\n'));
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
      /* An excluded directory is still walked when an exception names a path inside it. */
      const reopened = ent.isDirectory() && pats.some((p) => p.startsWith(`!${r}/`));
      if (ignored(pats, r) && !reopened) continue;
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

/* Every regular file under a directory, as absolute paths inside it. */
function filesUnder(dir, rel = '') {
  const out = [];
  for (const ent of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = `${rel}/${ent.name}`;
    if (ent.isDirectory()) out.push(...filesUnder(dir, r));
    else out.push(r);
  }
  return out;
}

test('the build stage commands build both services from the context and lay out their runtime trees', { timeout: 900000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cartpair-docker-'));
  try {
    const ctx = join(dir, 'src');
    mkdirSync(ctx);
    copyContext(ctx);
    assert.ok(readdirSync(ctx).includes('CMakeLists.txt'));
    for (const [service, port] of Object.entries(SERVICES)) {
      const text = dockerfile(service);
      const build = stages(text)[0];
      const out = join(dir, `build-${service}`);
      const rootfs = join(dir, `rootfs-${service}`);
      for (const ins of build.body.filter((i) => i.keyword === 'RUN' && i.args.includes('cmake'))) {
        /* The same commands, with the image's /build and /rootfs moved here. */
        const cmd = ins.args.replaceAll(' /build', ` ${out}`).replaceAll(' /rootfs', ` ${rootfs}`);
        execFileSync('sh', ['-c', cmd], { cwd: ctx, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600000 });
      }
      const bin = join(out, service);
      assert.deepEqual(filesUnder(rootfs).sort(), expectedRootfs(bin, service));
      assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777);
      if (process.getuid?.() === 0) {
        /* The tree runs on its own: no library from the host. */
        const r = spawnSync('/usr/sbin/chroot', ['--userspec=10001:10001', rootfs, `/usr/local/bin/${service}`, '--help'],
          { encoding: 'utf8', env: {}, timeout: 10000 });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`Usage: ${service}`));
        assert.ok(port > 0);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
