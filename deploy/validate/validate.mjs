#!/usr/bin/env node
/* validate: check rendered cartpair manifests offline.
 *
 *   kubectl kustomize deploy/k8s/overlays/dev | node validate.mjs -
 *   node validate.mjs [--external-secret NAME]... [--require COMPONENT]... FILE.yaml
 *
 * Every object is validated against the Kubernetes API schemas
 * (kubernetes-models), then the whole set against the policies of
 * deploy/README.md (policy.mjs); --require names a component (gateway,
 * monitoring, redis-ha) whose objects must be there. Exit 0 when all pass, 1 on any error,
 * 2 on bad usage. */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseManifests, validateAll } from './schema.mjs';
import { checkPolicies } from './policy.mjs';

/* Validate a YAML text; resolves to { count, errors }. */
export async function validateText(text, external = [], required = []) {
  let objs;
  try {
    objs = parseManifests(text);
  } catch (e) {
    return { count: 0, errors: [e.message] };
  }
  if (objs.length === 0) return { count: 0, errors: ['no objects in the input'] };
  const errors = await validateAll(objs);
  errors.push(...checkPolicies(objs, external, required));
  return { count: objs.length, errors };
}

/* Command line: parse the arguments, read the input, print the verdict. */
async function main(argv) {
  const external = [];
  const required = [];
  let file;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--external-secret' && i + 1 < argv.length) external.push(argv[++i]);
    else if (argv[i] === '--require' && i + 1 < argv.length) required.push(argv[++i]);
    else if (file === undefined && !argv[i].startsWith('--')) file = argv[i];
    else file = null;
  }
  if (!file) {
    console.error('usage: validate.mjs [--external-secret NAME]... [--require COMPONENT]... FILE|-');
    return 2;
  }
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  const { count, errors } = await validateText(text, external, required);
  for (const e of errors) console.error(`error: ${e}`);
  if (errors.length > 0) {
    console.error(`${file}: ${errors.length} error(s) in ${count} object(s)`);
    return 1;
  }
  console.log(`${file}: ${count} objects valid, policies hold`);
  return 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
