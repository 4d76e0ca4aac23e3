/* schema: validate Kubernetes objects against the API schemas shipped in
 * the kubernetes-models packages (offline; no cluster needed), custom
 * resources (Gateway API, Prometheus Operator) included. */
import { parseAllDocuments } from 'yaml';

/* Parse a multi-document YAML string into plain objects; throws on a
 * syntax error. Empty documents are dropped. */
export function parseManifests(text) {
  const docs = parseAllDocuments(text);
  const out = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      throw new Error(`YAML: ${doc.errors[0].message}`);
    }
    const obj = doc.toJS();
    if (obj !== null && obj !== undefined) out.push(obj);
  }
  return out;
}

/* A short name for messages: Kind/namespace/name. */
export function objName(obj) {
  const md = obj?.metadata ?? {};
  return `${obj?.kind ?? '?'}/${md.namespace ? md.namespace + '/' : ''}${md.name ?? '?'}`;
}

/* Packages with the schemas of API groups that are not Kubernetes' own
 * (custom resources of the Gateway API and the Prometheus Operator). */
const CRD_PACKAGES = {
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

/* The module path of the model for an apiVersion and kind. */
function modelPath(apiVersion, kind) {
  const parts = String(apiVersion).split('/');
  if (parts.length === 1) return `kubernetes-models/${parts[0]}/${kind}`;
  const pkg = CRD_PACKAGES[parts[0]] ?? 'kubernetes-models';
  return `${pkg}/${parts[0]}/${parts[1]}/${kind}`;
}

/* Validate one object; resolves to a list of error strings (empty: valid). */
export async function schemaErrors(obj) {
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    return ['document is not a mapping'];
  }
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return [`${objName(obj)}: apiVersion and kind must be strings`];
  }
  if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') {
    return [`${objName(obj)}: metadata.name is required`];
  }
  let mod;
  try {
    mod = await import(modelPath(apiVersion, kind));
  } catch {
    return [`${objName(obj)}: unknown apiVersion/kind ${apiVersion} ${kind}`];
  }
  const Model = mod[kind];
  if (typeof Model !== 'function') {
    return [`${objName(obj)}: no model for ${apiVersion} ${kind}`];
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    return [`${objName(obj)}: schema: ${e.message}`];
  }
  return [];
}

/* Validate every object; resolves to all error strings. */
export async function validateAll(objs) {
  const errors = [];
  for (const obj of objs) errors.push(...(await schemaErrors(obj)));
  return errors;
}
