/* dockerfile: lint the service Dockerfiles (dockerfile-utils' linter with
 * every rule an error, then this project's rules: multi-stage bookworm
 * build, slim runtime with only runtime libraries, non-root user, no curl)
 * and the .dockerignore. */
import { execFileSync } from 'node:child_process';
import { validate } from 'dockerfile-utils';

const ERROR = 2;
const STRICT = {
  deprecatedMaintainer: ERROR, directiveCasing: ERROR, emptyContinuationLine: ERROR,
  instructionCasing: ERROR, instructionCmdMultiple: ERROR, instructionEntrypointMultiple: ERROR,
  instructionHealthcheckMultiple: ERROR, instructionJSONInSingleQuotes: ERROR,
  instructionWorkdirRelative: ERROR,
};

/* Runtime packages that a debian:bookworm-slim image already has. */
const BASE_PACKAGES = ['libc6', 'libgcc-s1'];

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

/* Build-stage rules: Debian bookworm, CMake configure without tests, the
 * service's target built. */
function checkBuildStage(build, service) {
  const errs = [];
  if (build.from !== 'debian:bookworm') errs.push(`build stage must start FROM debian:bookworm, not ${build.from}`);
  const runs = build.body.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
  if (!/cmake -S \. -B \S+.*-DCARTPAIR_TESTS=OFF/.test(runs)) errs.push('build stage must configure with cmake -S . -B ... -DCARTPAIR_TESTS=OFF');
  if (!runs.includes(`--target ${service}`)) errs.push(`build stage must build --target ${service}`);
  return errs;
}

/* Runtime-stage rules: slim image, runtime libraries only, numeric
 * non-root USER, exec-form ENTRYPOINT, LISTEN_ADDR for containers. */
function checkRuntimeStage(run, build, service, port) {
  const errs = [];
  if (run.from !== 'debian:bookworm-slim') errs.push(`runtime stage must be FROM debian:bookworm-slim, not ${run.from}`);
  const pkgs = aptPackages(run);
  for (const p of pkgs) {
    if (/-dev$|^build-essential$|^cmake$|^gcc|^pkg-config$/.test(p)) errs.push(`runtime stage installs build package ${p}`);
    if (/^(curl|wget)$/.test(p)) errs.push(`runtime stage installs ${p}: probes are httpGet, no client is needed`);
  }
  const runs = run.body.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
  if (pkgs.length > 0 && !runs.includes('--no-install-recommends')) errs.push('runtime apt-get install needs --no-install-recommends');
  if (pkgs.length > 0 && !runs.includes('rm -rf /var/lib/apt/lists/*')) errs.push('runtime stage must remove /var/lib/apt/lists/*');
  const users = run.body.filter((i) => i.keyword === 'USER');
  const user = users.length > 0 ? users[users.length - 1].args : '';
  const uid = /^(\d+)(?::\d+)?$/.exec(user);
  if (!uid || Number(uid[1]) === 0) errs.push(`runtime stage must end as a numeric non-root USER, not "${user}"`);
  const copy = run.body.find((i) => i.keyword === 'COPY' && i.args.startsWith(`--from=${build.name} `));
  if (!copy || !copy.args.endsWith(` /usr/local/bin/${service}`)) errs.push(`runtime stage must COPY --from=${build.name} the binary to /usr/local/bin/${service}`);
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

/* Debian packages (on this bookworm machine) that provide the shared
 * libraries a binary needs; sonames dpkg does not know are returned too. */
export function neededPackages(binary) {
  const dyn = execFileSync('readelf', ['-d', binary], { encoding: 'utf8' });
  const sonames = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const pkgs = new Map();
  for (const so of sonames) {
    let owner = `unknown:${so}`;
    try {
      const out = execFileSync('dpkg', ['-S', `*/${so}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      owner = out.split('\n')[0].split(':')[0].trim();
    } catch { /* left as unknown */ }
    pkgs.set(so, owner);
  }
  return pkgs;
}

/* Errors when the runtime stage lacks a package the binary links to, or
 * installs a library package the binary does not use. */
export function runtimeLibErrors(text, binary) {
  const run = stages(text).pop();
  const installed = new Set([...aptPackages(run), ...BASE_PACKAGES]);
  const needed = neededPackages(binary);
  const errs = [];
  for (const [so, pkg] of needed) {
    if (!installed.has(pkg)) errs.push(`${binary} needs ${so} from ${pkg}, which the runtime stage does not install`);
  }
  const used = new Set(needed.values());
  for (const p of aptPackages(run)) {
    if (/^lib/.test(p) && !used.has(p)) errs.push(`runtime stage installs ${p}, which ${binary} does not link to`);
  }
  return errs;
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
  if (pats.some((p) => ['*', '**', '.'].includes(norm(p)))) errs.push('.dockerignore excludes everything');
  return errs;
}

/* A Docker ignore pattern (one path segment, * and ?) against a top-level name. */
function globMatches(pattern, name) {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  return re.test(name);
}
