/* dockerfile: lint the service Dockerfiles (dockerfile-utils' linter with
 * every rule an error, then this project's rules: a build stage on a pinned
 * Debian bookworm that installs the headers the sources include, a runtime
 * stage FROM scratch holding only the binary and what ldd says it loads,
 * OCI labels, non-root user) and the .dockerignore. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';

const ERROR = 2;
const STRICT = {
  deprecatedMaintainer: ERROR, directiveCasing: ERROR, emptyContinuationLine: ERROR,
  instructionCasing: ERROR, instructionCmdMultiple: ERROR, instructionEntrypointMultiple: ERROR,
  instructionHealthcheckMultiple: ERROR, instructionJSONInSingleQuotes: ERROR,
  instructionWorkdirRelative: ERROR,
};

/* The build stage's base: Debian bookworm pinned to a point release. */
const PINNED_BASE = /^(docker\.io\/library\/)?debian:12\.\d+$/;
/* Packages build-essential brings (the C library's and kernel headers). */
const TOOLCHAIN_PACKAGES = ['libc6-dev', 'linux-libc-dev', 'libgcc-12-dev', 'libc-dev-bin'];
/* OCI labels every image carries. */
const OCI_LABELS = ['title', 'description', 'version', 'revision', 'created']
  .map((k) => `org.opencontainers.image.${k}`);

/* Logical instructions: continuation lines joined, comments dropped. */
export function instructions(text) {
  const out = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) { cur += line.slice(0, -1) + ' '; continue; }
    cur += line;
    if (cur.trim() !== '') {
      const m = /^\s*(\S+)\s*(.*)$/.exec(cur);
      out.push({ keyword: m[1].toUpperCase(), args: m[2].replace(/\s+/g, ' ').trim() });
    }
    cur = '';
  }
  return out;
}

/* Split instructions into stages, each { from, name, body }. */
export function stages(text) {
  const out = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      out.push({ from: m ? m[1] : ins.args, name: m?.[2], body: [] });
    } else if (out.length > 0) {
      out[out.length - 1].body.push(ins);
    }
  }
  return out;
}

/* Packages named by `apt-get install` in a stage's RUN instructions. */
export function aptPackages(stage) {
  const pkgs = [];
  for (const ins of stage.body.filter((i) => i.keyword === 'RUN')) {
    for (const m of ins.args.matchAll(/apt-get install ([^&;|]*)/g)) {
      pkgs.push(...m[1].split(' ').filter((w) => w !== '' && !w.startsWith('-')));
    }
  }
  return pkgs;
}

/* Build-stage rules: pinned Debian bookworm, CMake configure without
 * tests, the service's target built, its runtime tree laid out by ldd. */
function checkBuildStage(build, service) {
  const errs = [];
  if (!PINNED_BASE.test(build.from)) errs.push(`build stage must start FROM a pinned Debian bookworm point release (docker.io/library/debian:12.N), not ${build.from}`);
  const runs = build.body.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
  if (!/cmake -S \. -B \S+.*-DCARTPAIR_TESTS=OFF/.test(runs)) errs.push('build stage must configure with cmake -S . -B ... -DCARTPAIR_TESTS=OFF');
  if (!runs.includes(`--target ${service}`)) errs.push(`build stage must build --target ${service}`);
  if (!new RegExp(`deploy/docker/rootfs \\S+/${service} /rootfs\\b`).test(runs)) errs.push(`build stage must lay out /rootfs with deploy/docker/rootfs (the binary and its ldd libraries)`);
  return errs;
}

/* Debian packages of the headers the given source directories include
 * (found on this machine with dpkg -S), toolchain packages left out. */
export function headerPackages(root, dirs) {
  const headers = new Set();
  for (const d of dirs) {
    for (const f of readdirSync(join(root, d)).filter((x) => /\.[ch]$/.test(x))) {
      for (const m of readFileSync(join(root, d, f), 'utf8').matchAll(/^#include <([^>]+)>/gm)) headers.add(m[1]);
    }
  }
  const pkgs = new Map();
  for (const h of headers) {
    try {
      const out = execFileSync('dpkg', ['-S', `/usr/include/${h}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const pkg = out.split('\n')[0].split(':')[0].trim();
      if (!TOOLCHAIN_PACKAGES.includes(pkg)) pkgs.set(h, pkg);
    } catch { /* a toolchain header under another path (gcc's) */ }
  }
  return pkgs;
}

/* Errors when the build stage lacks the package of an included header. */
export function buildPackageErrors(text, headers) {
  const installed = new Set(aptPackages(stages(text)[0]));
  return [...headers].filter(([, pkg]) => !installed.has(pkg))
    .map(([h, pkg]) => `build stage needs ${pkg} for <${h}>, which it does not install`);
}

/* Runtime-stage rules: FROM scratch with the build stage's /rootfs and
 * nothing else, OCI labels, numeric non-root USER, exec-form ENTRYPOINT,
 * LISTEN_ADDR for containers. */
function checkRuntimeStage(run, build, service, port) {
  const errs = [];
  if (run.from !== 'scratch') errs.push(`runtime stage must be FROM scratch (only what ldd says the binary needs), not ${run.from}`);
  for (const i of run.body.filter((x) => ['RUN', 'ADD'].includes(x.keyword))) errs.push(`runtime stage must not ${i.keyword} (${i.args})`);
  const copies = run.body.filter((i) => i.keyword === 'COPY');
  if (copies.length !== 1 || copies[0].args !== `--from=${build.name} /rootfs/ /`) {
    errs.push(`runtime stage must COPY --from=${build.name} /rootfs/ / and nothing else`);
  }
  const labels = run.body.filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' ');
  for (const l of OCI_LABELS) if (!labels.includes(`${l}=`)) errs.push(`runtime stage must LABEL ${l}`);
  const users = run.body.filter((i) => i.keyword === 'USER');
  const user = users.length > 0 ? users[users.length - 1].args : '';
  const uid = /^(\d+)(?::\d+)?$/.exec(user);
  if (!uid || Number(uid[1]) === 0) errs.push(`runtime stage must end as a numeric non-root USER, not "${user}"`);
  const ep = run.body.filter((i) => i.keyword === 'ENTRYPOINT').pop();
  if (!ep || ep.args !== `["/usr/local/bin/${service}"]`) errs.push(`ENTRYPOINT must be ["/usr/local/bin/${service}"] (exec form, no shell)`);
  const env = run.body.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
  if (!/\bLISTEN_ADDR=0\.0\.0\.0\b/.test(env)) errs.push('runtime stage must set ENV LISTEN_ADDR=0.0.0.0');
  if (!new RegExp(`\\bPORT=${port}\\b`).test(env)) errs.push(`runtime stage must set ENV PORT=${port}`);
  if (!run.body.some((i) => i.keyword === 'EXPOSE' && i.args.split(' ').includes(String(port)))) errs.push(`runtime stage must EXPOSE ${port}`);
  return errs;
}

/* All lint errors of a service Dockerfile (empty: clean). */
export function lintDockerfile(text, service, port) {
  const errs = validate(text, STRICT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  const st = stages(text);
  if (st.length !== 2) return [...errs, `expected 2 stages (build, runtime), found ${st.length}`];
  const [build, run] = st;
  if (!build.name) errs.push('the build stage needs a name (FROM ... AS build)');
  errs.push(...checkBuildStage(build, service), ...checkRuntimeStage(run, build, service, port));
  return errs;
}

/* The files a runtime tree made by deploy/docker/rootfs must hold: the
 * binary, every library ldd lists for it (and the loader), and /etc files. */
export function expectedRootfs(binary, service) {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return [`/usr/local/bin/${service}`, ...libs,
    '/etc/passwd', '/etc/group', '/etc/nsswitch.conf', '/etc/ld.so.conf', '/etc/ld.so.cache'].sort();
}

/* Errors of a .dockerignore: it must keep the sources the build needs and
 * drop build trees, git data, node_modules, run/ and reports. */
export function dockerignoreErrors(text) {
  const pats = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const errs = [];
  const norm = (p) => p.replace(/^\/+/, '').replace(/\/+$/, '');
  const set = new Set(pats.map(norm));
  for (const must of ['.git', 'build*', 'run', 'node_modules']) {
    if (!set.has(must)) errs.push(`.dockerignore must exclude ${must}`);
  }
  if (!pats.some((p) => norm(p).startsWith('report'))) errs.push('.dockerignore must exclude report*');
  for (const keep of ['CMakeLists.txt', 'common', 'stateful-svc', 'stateless-svc']) {
    if (pats.some((p) => !p.startsWith('!') && globMatches(norm(p), keep))) errs.push(`.dockerignore excludes ${keep}, which the build needs`);
  }
  /* deploy/ may be excluded, but the runtime tree script must come back. */
  if (set.has('deploy') && !pats.includes('!deploy/docker/rootfs')) errs.push('.dockerignore excludes deploy/docker/rootfs, which the build needs');
  if (pats.some((p) => ['*', '**', '.'].includes(norm(p)))) errs.push('.dockerignore excludes everything');
  return errs;
}

/* A Docker ignore pattern (one path segment, * and ?) against a top-level name. */
function globMatches(pattern, name) {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  return re.test(name);
}
